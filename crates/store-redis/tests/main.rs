//! The Redis stores against a real redis-server (and a Redis Cluster): one
//! module per area, each a file of this directory, built as one test binary
//! (one link of the Redis stack instead of one per file).
//! `cargo nextest run -p switchboard-store-redis -E 'test(/^outage::/)'` runs
//! one area.

mod support;

mod bus;
mod cluster;
mod event_log;
mod outage;
mod owners;
mod rate_limiter;
mod session_store;
mod task_store;
