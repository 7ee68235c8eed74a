//! Switchboard's sessions (the 2025 eras and 2024-11-05): a session's
//! state and behaviour on this node.
//!
//! - [`slot`]: one logical SSE stream of a session ([`StreamSlot`]) and
//!   its replay, following and feeding from the event log.
//! - [`live`]: the live part of one session ([`LiveSession`]): streams,
//!   waiting server-to-client requests, running requests, subscriptions.
//! - [`outbox`]: a session's outbox of server events ([`Outbox`]).
//! - [`registry`]: every live session on this node ([`Registry`]).
//! - [`sessions`]: the [`Sessions`] service — the session store, event
//!   logs, registry and bus; ending a session, what ends its streams,
//!   publishing to the other nodes.
//! - [`open`]: resolving the session a request names ([`Session`]).
//! - [`create`]: `initialize` read once ([`hello`]) and a new session
//!   made, with room under the caps and quotas.
//! - [`footprint`]: what a session's record may take, and its count.
//! - [`call`]: running a catalog method in a session ([`Call`],
//!   `Sessions::run`).
//! - [`methods`]: the session-layer methods (ping, setLevel, subscribe)
//!   and a session's client notifications.
//! - [`peer`]: the session era's client peer ([`LegacyPeer`]): a reply
//!   that turns into an SSE stream at the handler's first message.
//! - [`notifier`]: server events to the sessions' standalone streams (a
//!   background service).
//!
//! This crate may use `switchboard-tenancy` (principals, the gate, quota
//! counts), `switchboard-http` (SSE frames, stream ends, transport errors,
//! the lifecycle), `switchboard-observe`, `switchboard-config`,
//! `switchboard-proto`, `switchboard-runtime`, `switchboard-store` and
//! `switchboard-telemetry`, and no other part of Switchboard; the fronts,
//! the cluster and the app use it.

#![warn(missing_docs)]

pub mod call;
pub mod create;
pub mod footprint;
pub mod live;
pub mod methods;
pub mod notifier;
pub mod open;
pub mod outbox;
pub mod peer;
pub mod registry;
pub mod sessions;
pub mod slot;

pub use call::Call;
pub use create::{Hello, empty_object, hello};
pub use live::{Answer, LiveSession, Running};
pub use open::{Session, check_version_header};
pub use outbox::Outbox;
pub use peer::{Decision, LegacyPeer, await_answer};
pub use registry::Registry;
pub use sessions::{Parts, Sessions};
pub use slot::{STANDALONE, StreamSlot, replay_channel};
