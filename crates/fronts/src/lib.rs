//! The fronts of Switchboard: what a client talks to.
//!
//! - `mcp`: the Streamable HTTP endpoint `/mcp` for the session-based
//!   versions (POST, GET, DELETE, batches, `initialize`), switching to the
//!   stateless front per request;
//! - `modern`: the stateless 2026-07-28 front's request path and its
//!   `subscriptions/listen` stream;
//! - `legacy_sse`: the 2024-11-05 HTTP+SSE transport;
//! - `metadata`: the RFC 9728 protected resource metadata document;
//! - `stdio`: one client over stdin/stdout.
//!
//! The HTTP fronts share one state, [`Fronts`]: the services they use,
//! built by the composition root (`switchboard-server`) and handed down.
//! [`routes`] merges the HTTP fronts' routes over it.

mod fronts;
mod legacy_sse;
mod mcp;
mod metadata;
mod modern;
#[cfg(test)]
mod proptest_cases;
mod stdio;

use axum::Router;

pub use fronts::{Fronts, Parts};
pub use stdio::{STDIO_SESSION, StdioOptions, serve_stdio, serve_stdio_with};

/// The HTTP fronts' routes: `/mcp`, the 2024-11-05 transport and the
/// metadata document, over `fronts`.
pub fn routes(fronts: Fronts) -> Router {
    mcp::routes()
        .merge(legacy_sse::routes())
        .merge(metadata::routes())
        .with_state(fronts)
}
