//! Switchboard's observation: what the server tells its operators, at the
//! bottom of the server beside the configuration.
//!
//! - [`metrics`]: the Prometheus families of the node, grouped by what they
//!   count, and the label helpers that keep every label set closed.
//! - [`audit`]: the audit trail, one JSON line per tool call and security
//!   event, written off the request path.
//! - [`access`]: the access line and root span of each MCP request, noted
//!   on the way through a task-local.
//! - [`throttle`]: one log line per interval for events that come in floods.
//! - [`ids`]: session ids, and their short form for logs.
//!
//! This crate may use `switchboard-proto`, `switchboard-runtime` (handler
//! results, the catalog's tools, the providers' health) and
//! `switchboard-telemetry` (the span target), and no other part of
//! Switchboard; every part above it may use it.

#![warn(missing_docs)]

pub mod access;
pub mod audit;
pub mod ids;
pub mod metrics;
pub mod throttle;
