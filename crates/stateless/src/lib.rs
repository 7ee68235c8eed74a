//! Switchboard's stateless exchange (protocol 2026-07-28): every request
//! stands alone, carrying its version and client capabilities in `_meta`;
//! what must survive between rounds of an `input_required` exchange
//! travels, sealed, with the client.
//!
//! - [`meta`]: the request's `_meta` read once.
//! - [`seal`]: the sealed `requestState` ([`Sealer`]) and what it is bound to.
//! - [`peer`]: the stateless client peer ([`ModernPeer`]) and the input
//!   rounds of a call ([`Rounds`]).
//! - [`result`]: what every stateless result carries ([`Shape`]).
//! - [`headers`]: the mirrored `Mcp-*` headers checked against the body.
//! - [`error`]: the era's error shape ([`modern_error`]).
//! - [`names`]: the methods the era removed, `server/discover`, and the
//!   task extension's names.
//!
//! Used by the HTTP front and the stdio front alike. This crate may use
//! `switchboard-http` (SSE frames), `switchboard-proto` and
//! `switchboard-runtime` (the client peer), and no other part of
//! Switchboard.

#![warn(missing_docs)]

pub mod error;
pub mod headers;
pub mod meta;
pub mod names;
pub mod peer;
#[cfg(test)]
mod proptest_cases;
pub mod result;
pub mod seal;

pub use error::modern_error;
pub use meta::Meta;
pub use peer::{Decision, ModernPeer, Rounds};
pub use result::Shape;
pub use seal::{RequestState, SealError, Sealer};
