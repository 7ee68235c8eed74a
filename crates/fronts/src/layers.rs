//! The fronts' cross-cutting work as layers, applied once where the routes
//! are built: the `Host`/`Origin` check on every route that has one, and
//! the request's access record and root span around the POSTs that carry
//! MCP messages (`/mcp`, `/messages`).
//!
//! Both are route layers on a route's methods, not on its fallback: a
//! method a route does not serve is refused with 405 whatever its `Host`.
//! The access layer wraps the `Host` check, so a request that check
//! refuses still gets its access line (status 400 or 403).

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use switchboard_http::guard::{self, HostPolicy};
use switchboard_observe::access;

/// The layers of the fronts' routes.
#[derive(Debug, Clone)]
pub(crate) struct Layers {
    /// Who may be named in `Host` and `Origin`.
    hosts: HostPolicy,
}

impl Layers {
    pub(crate) fn new(hosts: HostPolicy) -> Self {
        Self { hosts }
    }

    /// `route` behind the `Host`/`Origin` check: a refused request gets
    /// the check's error and reaches no handler (nor authentication).
    pub(crate) fn guarded<S>(&self, route: MethodRouter<S>) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        route.route_layer(middleware::from_fn_with_state(
            self.hosts.clone(),
            guard::check_hosts,
        ))
    }

    /// `route`, a POST carrying MCP messages for `front`, behind the
    /// `Host`/`Origin` check and inside the request's access record and
    /// root span — one layer doing both, in that order (each layer costs
    /// every request a clone of the route and a boxed future).
    pub(crate) fn recorded<S>(&self, front: &'static str, route: MethodRouter<S>) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let hosts = self.hosts.clone();
        route.route_layer(middleware::from_fn(move |req: Request, next: Next| {
            record(front, hosts.clone(), req, next)
        }))
    }
}

/// One request of `front` within its access record and root span (the
/// record lives on in the handler tasks started with `access::spawn`),
/// refused there if its `Host` or `Origin` is ([`guard::check_hosts`]).
async fn record(front: &'static str, hosts: HostPolicy, req: Request, next: Next) -> Response {
    access::begin(front, req.headers())
        .serve(async move {
            match hosts.check(req.headers()) {
                Ok(()) => next.run(req).await,
                Err(e) => e.into_response(),
            }
        })
        .await
}
