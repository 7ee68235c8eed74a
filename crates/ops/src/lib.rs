//! Switchboard's operations: what an operator and the platform around a
//! node use, beside the MCP traffic.
//!
//! - [`admin`]: the admin API and dashboard on their own listener
//!   ([`admin::admin_router`], [`admin::serve_admin`]).
//! - [`ops`]: the [`Ops`] service (configuration, catalog, sessions, gate,
//!   connections, metrics, lifecycle) the parts below take.
//! - `health`: `/healthz` and `/health` (alive), `/readyz` (ready to take
//!   traffic) and `/metrics` (the Prometheus text exposition), as
//!   [`Ops::routes`].
//! - `capacity`: the capacity gauges, with a warning past 90 % of a cap
//!   ([`Ops::check_capacity`]).
//! - `reaper`: the session reaper's loop (expired sessions ended, rate
//!   buckets swept, gauges updated), a background service
//!   ([`Ops::run_reaper`]).
//! - [`reload`]: hot reload ([`reload::Reloader`]): a new configuration
//!   validated in full, then swapped in (configuration, tenants,
//!   upstreams) or refused as a whole; [`reload::reload_upstreams`] for a
//!   front without one (stdio).
//! - [`upstreams`]: starting `[[upstreams]]` as catalog providers
//!   ([`upstreams::start_upstream`]).
//!
//! This crate may use `switchboard-session`, `switchboard-tenancy`,
//! `switchboard-auth`, `switchboard-limits`, `switchboard-store`,
//! `switchboard-http`, `switchboard-observe`, `switchboard-config`,
//! `switchboard-runtime` and `switchboard-upstream`, and no other part of
//! Switchboard.

#![warn(missing_docs)]

pub mod admin;
mod capacity;
mod health;
pub mod ops;
mod reaper;
pub mod reload;
pub mod upstreams;

pub use ops::{Ops, Parts};
