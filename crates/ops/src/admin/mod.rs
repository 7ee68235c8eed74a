//! The admin API and dashboard on their own listener (`[admin]`): live
//! sessions (list, show, end), tenants' usage against their limits, the
//! upstreams, draining the node, and one stats snapshot for the dashboard.
//! Every `/admin/v1/*` route needs the admin bearer token (`auth.rs`); the
//! MCP tenants' credentials mean nothing here. Every route, the page
//! included, first passes the `Host`/`Origin` check of the MCP endpoint
//! against the loopback names and `[admin] allowed_hosts`.

mod auth;
mod connections;
mod dashboard;
mod node;
mod pins;
mod scrape;
mod servers;
mod sessions;
mod stats;
mod tenants;
mod upstreams;

use std::future::Future;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::routing::{get, post};
use http::StatusCode;
use serde_json::{Value, json};
use switchboard_http::guard::HostPolicy;
use switchboard_http::reply::json_response;
use tokio::net::TcpListener;

use crate::ops::Ops;

/// What the admin handlers reach: the node's operations side (whose
/// current configuration holds the admin credential, so a reload can
/// rotate it).
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    pub(crate) ops: Ops,
    /// Who may be named in `Host` and `Origin` (read at start).
    hosts: HostPolicy,
}

/// The admin routes for `ops`. Without `[admin] token_sha256` no request
/// to `/admin/v1/*` is let in.
pub fn admin_router(ops: Ops) -> Router {
    let hosts = HostPolicy::new(&ops.config().admin.allowed_hosts);
    let state = Admin { ops, hosts };
    let api = Router::new()
        .route("/node", get(node::node))
        .route("/drain", post(node::drain))
        .route("/sessions", get(sessions::list))
        .route("/sessions/{id}", get(sessions::show).delete(sessions::end))
        .route("/tenants", get(tenants::list))
        .route("/tenants/{tenant}/connections", get(connections::list))
        .route(
            "/tenants/{tenant}/connections/{upstream}/{subject}",
            axum::routing::delete(connections::revoke),
        )
        .route("/servers", get(servers::list))
        .route("/upstreams", get(upstreams::list))
        .route("/upstreams/{upstream}/pins", get(pins::list))
        .route(
            "/upstreams/{upstream}/pins/{tool}/approve",
            post(pins::approve),
        )
        .route("/stats", get(stats::snapshot))
        .fallback(not_found)
        // `layer`, not `route_layer`: unknown paths need the token too.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/", get(dashboard::page))
        .route("/dashboard", get(dashboard::page))
        .nest("/admin/v1", api)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            check_host,
        ))
        .with_state(state)
}

/// Serve the admin API of `ops` on `listener` until `shutdown` resolves,
/// holding at most `admin.max_connections` connections (see `accept.rs`).
pub async fn serve_admin(
    listener: TcpListener,
    ops: Ops,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = switchboard_http::accept::AdminListener::new(listener, ops.conns().clone());
    axum::serve(listener, admin_router(ops))
        .with_graceful_shutdown(shutdown)
        .await
}

/// A JSON answer.
pub(crate) fn reply(status: StatusCode, body: &Value) -> axum::response::Response {
    json_response(status, body.to_string())
}

/// `{"error": message}` with `status`.
pub(crate) fn error(status: StatusCode, message: &str) -> axum::response::Response {
    reply(status, &json!({ "error": message }))
}

/// 400 for a repeated `Host` or `Origin`, 403 for a foreign one, as on
/// the MCP endpoint (DNS rebinding; a page of another origin).
async fn check_host(
    State(admin): State<Admin>,
    req: Request,
    next: Next,
) -> axum::response::Response {
    match admin.hosts.check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => error(e.status(), &e.to_string()),
    }
}

async fn not_found() -> axum::response::Response {
    error(StatusCode::NOT_FOUND, "no such admin endpoint")
}
