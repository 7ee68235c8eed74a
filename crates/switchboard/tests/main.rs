//! Switchboard as its users run it: the `switchboard` binary started as a
//! process (one node, two, or three on a real Redis), each area a module
//! and a file of this directory, built as one test binary (one link of
//! the whole server instead of one per file).
//! `cargo nextest run -p switchboard -E 'test(/^cluster::/)'` runs one area.

#[path = "support/otlp.rs"]
mod otlp;
#[path = "../../store-redis/tests/support/mod.rs"]
mod redis_support;
mod support;
#[path = "support/tee.rs"]
mod tee;

mod access_log;
mod admin_cli;
mod cluster;
mod cluster_failover;
mod cluster_fairness;
mod cluster_quotas;
mod cluster_session_bytes;
mod cluster_upstream;
mod file_store;
mod gateway_eras;
mod gateway_kill;
mod gateway_startup;
mod library;
mod open_files;
mod pinning;
mod redis_outage;
mod redis_store;
mod reload;
mod secrets_never_shown;
mod stdio_gateway;
mod stdio_io;
mod tasks_failover;
mod traces;
mod two_nodes;
mod upstream_sign_in;
mod vault;
