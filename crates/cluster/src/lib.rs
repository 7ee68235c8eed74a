//! Switchboard's cluster: what arrives at a node from the other nodes,
//! and where a session's requests run when its upstream process lives on
//! another node. Without a bus and shared owner records (one node, the
//! memory or file store) nothing here runs.
//!
//! - `inbox`: the bus inbox — answers, cancellations, stream
//!   announcements, ended sessions and logged server events the other
//!   nodes route here, delivered to this node's live sessions.
//! - [`events`]: [`ClusterEvents`], the catalog's event bus on a cluster
//!   (server events relayed between the nodes, merged while the bus is
//!   busy).
//! - `fanout`: origin logging of this node's server events for every
//!   session's GET stream, wherever it is held.
//! - [`owner`]: owner forwarding of sessions' `per_session` upstream
//!   processes ([`Owners`]: route, lease heartbeat, release on drain).
//! - [`cluster`]: the [`Cluster`] service composing them, started as
//!   background services ([`Cluster::start`]) and stopped after the drain
//!   ([`Running::stop`]).
//!
//! This crate may use `switchboard-session` (the `Sessions` service, live
//! sessions and their streams), `switchboard-http` (transport errors,
//! replies), `switchboard-config`, `switchboard-observe`,
//! `switchboard-proto`, `switchboard-runtime` and `switchboard-store`, and
//! no other part of Switchboard.

#![warn(missing_docs)]

pub mod cluster;
pub mod events;
pub(crate) mod fanout;
pub(crate) mod inbox;
pub mod owner;

pub use cluster::{Cluster, Running};
pub use events::ClusterEvents;
pub use owner::{FORWARD_HEADER, FORWARD_WINDOW_MS, Owners, Request, Route, UPSTREAM_RESET};
