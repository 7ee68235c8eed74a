//! The fronts of Switchboard: what a client talks to.
//!
//! - `session_era`: the Streamable HTTP endpoint `/mcp` for the
//!   session-based versions (POST, GET, DELETE, batches, `initialize`),
//!   switching to the stateless front per request;
//! - `stateless_era`: the stateless 2026-07-28 front's request path and
//!   its `subscriptions/listen` stream;
//! - `legacy_sse`: the 2024-11-05 HTTP+SSE transport;
//! - `metadata`: the RFC 9728 protected resource metadata document;
//! - `stdio`: one client over stdin/stdout.
//!
//! The HTTP fronts share one state, [`Fronts`]: the services they use,
//! built by the composition root (`switchboard-server`) and handed down;
//! a handler that needs one or two of them takes just those (`FromRef`
//! substates, such as [`Gate`](switchboard_tenancy::Gate)). [`routes`]
//! merges the HTTP fronts' routes over it, with the cross-cutting work
//! (the `Host`/`Origin` check, the access record and span) as layers
//! applied there once (`layers`).

#![warn(missing_docs)]

mod arrival;
mod connect;
mod fronts;
mod layers;
mod legacy_sse;
mod metadata;
#[cfg(test)]
mod proptest_cases;
mod servers;
mod session_era;
mod stateless_era;
mod stdio;

use axum::Router;

use crate::layers::Layers;

pub use fronts::{Fronts, Parts};
pub use stdio::{STDIO_SESSION, StdioOptions, serve_stdio, serve_stdio_with};

/// The HTTP fronts' routes: `/mcp`, the 2024-11-05 transport and the
/// metadata document, over `fronts`, each behind the `Host`/`Origin`
/// check of `fronts`.
pub fn routes(fronts: Fronts) -> Router {
    let layers = Layers::new(fronts.hosts().clone());
    let oauth = fronts.oauth().map(|server| {
        switchboard_oauth::router(server.clone()).route_layer(axum::middleware::from_fn_with_state(
            fronts.hosts().clone(),
            switchboard_http::guard::check_host,
        ))
    });
    let routes = session_era::routes(&layers)
        .merge(legacy_sse::routes(&layers))
        .merge(metadata::routes(&layers))
        .merge(connect::routes(&layers))
        .with_state(fronts);
    match oauth {
        Some(o) => routes.merge(o),
        None => routes,
    }
}
