//! Switchboard's durable tasks: the tasks extension of 2026-07-28
//! (`io.modelcontextprotocol/tasks`, SEP-2663) and the experimental tasks
//! of 2025-11-25 on a session, on one task store and one runner.
//!
//! - [`service`]: the [`Tasks`] service and this node's side of the tasks
//!   (its name in leases, the tasks it runs).
//! - [`records`]: the task records and their operations: creating a task
//!   ([`Call`]), claiming it, answering its input, cancelling it, taking
//!   over an orphan.
//! - [`extension`]: the 2026-07-28 extension's surface: how a `tools/call`
//!   is served ([`Plan`]), `tasks/get`, `tasks/update`, `tasks/cancel`,
//!   and a task on the wire.
//! - [`legacy`]: the 2025-11-25 surface (`tools/call` with `params.task`,
//!   `tasks/get`, `tasks/result`, `tasks/cancel`, `tasks/list`).
//! - `runner`: running a task's tool in the background under its lease.
//! - [`sweep`]: the orphan sweep, a background service.
//!
//! This crate may use `switchboard-tenancy` (principals, the gate),
//! `switchboard-stateless` (the era's names, rounds, result shape and
//! error shape), `switchboard-http` (transport errors),
//! `switchboard-observe`, `switchboard-config`, `switchboard-store`,
//! `switchboard-runtime`, `switchboard-proto` and `switchboard-limits`, and
//! no other part of Switchboard; the fronts and the app use it.

#![warn(missing_docs)]

pub mod extension;
pub mod legacy;
pub mod records;
mod runner;
pub mod service;
pub mod sweep;

pub use extension::{Plan, accepts, is_method};
pub use records::Call;
pub use service::Tasks;
