//! Switchboard's sessions (the 2025 eras and 2024-11-05): what a session
//! holds on this node.
//!
//! - [`slot`]: one logical SSE stream of a session ([`StreamSlot`]) and
//!   its replay, following and feeding from the event log.
//! - [`live`]: the live part of one session ([`LiveSession`]): streams,
//!   waiting server-to-client requests, running requests, subscriptions.
//! - [`outbox`]: a session's outbox of server events ([`Outbox`]).
//! - [`registry`]: every live session on this node ([`Registry`]).
//!
//! This crate may use `switchboard-http` (SSE frames),
//! `switchboard-proto`, `switchboard-runtime` (server events) and
//! `switchboard-store` (the event log), and no other part of Switchboard;
//! the fronts, the cluster and the app use it.

#![warn(missing_docs)]

pub mod live;
pub mod outbox;
pub mod registry;
pub mod slot;

pub use live::{Answer, LiveSession, Running};
pub use outbox::Outbox;
pub use registry::Registry;
pub use slot::{STANDALONE, StreamSlot, replay_channel};
