//! Switchboard's in-process end-to-end tests: one module per area, each
//! a file of this directory, built as one test binary. Forty binaries
//! each linked the whole server: in a cold build, the test binaries took
//! about as long as all the libraries together.
//! `cargo nextest run -p switchboard-testkit -E 'test(/^shedding::/)'`
//! runs one area. `accept_backoff.rs` is a binary of its own: it lowers
//! the process's open-file limit, which `cargo test` (one process for a
//! binary's tests) would impose on every other test.

mod fixture_upstream;

mod accept_header;
mod admin;
mod admission;
mod audit;
#[path = "bad_input/main.rs"]
mod bad_input;
mod connection_caps;
mod deploy_files;
mod event_fairness;
mod gateway;
mod gateway_bare_requests;
mod gateway_relay;
mod gateway_resilience;
mod guardrails;
mod host_origin;
mod hot_reload;
mod http_versions;
mod isolation;
mod jwt_http;
mod lifecycle;
mod metrics;
mod modern;
mod oauth;
mod other_transports;
mod params;
mod policies;
mod providers;
mod redaction;
mod resumption;
mod session_bytes;
mod session_cap;
mod session_features;
mod shedding;
mod slow_consumer;
mod tasks;
mod tenant_limits;
mod token_exchange;
mod upstream_credentials;
mod upstream_oauth_client;
mod upstream_sign_in;
mod virtual_servers;
