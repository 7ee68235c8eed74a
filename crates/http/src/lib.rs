//! Switchboard's HTTP vocabulary: what every front says over HTTP, below
//! the fronts and the services they call.
//!
//! - [`error`]: [`TransportError`], why a request was refused, and THE one
//!   map from it to an HTTP status and a JSON-RPC error body.
//! - [`guard`]: checks on a request's headers before its body is read
//!   (`Host`/`Origin`, `Accept`, content type, session id, version).
//! - [`era`]: which protocol era a request to `/mcp` speaks.
//! - [`sse`]: SSE framing, the [`Frame`]s a stream carries and what ends it.
//! - [`reply`]: small replies every front gives (JSON, 202, "now or as a
//!   one-event stream", a timed-out call's error).
//! - [`body`] and [`client`]: reading a body under a limit; who a client is
//!   before authentication (its address).
//! - [`conns`] and [`accept`]: connection caps and taking connections off a
//!   listener with back-off.
//! - [`lifecycle`]: the node's shutdown token, draining flag, name and start.
//!
//! This crate may use `switchboard-config`, `switchboard-observe`,
//! `switchboard-proto`, `switchboard-store` (event ids, store errors) and
//! `switchboard-limits` (admission refusals), and no other part of
//! Switchboard; the parts above it (tenancy, sessions, tasks, the fronts,
//! the app) use it.

#![warn(missing_docs)]

pub mod accept;
mod accepts;
pub mod body;
pub mod client;
pub mod conns;
pub mod era;
pub mod error;
pub mod frames;
pub mod guard;
pub mod lifecycle;
#[cfg(test)]
mod proptest_cases;
pub mod reply;
pub mod sse;

pub use accepts::Accepts;
pub use client::PeerAddr;
pub use conns::Conns;
pub use era::Era;
pub use error::{Challenge, TransportError};
pub use guard::HostPolicy;
pub use lifecycle::Lifecycle;
pub use sse::{Frame, StreamEnd};
