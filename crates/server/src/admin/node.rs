//! `GET /admin/v1/node` and `POST /admin/v1/drain`.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};
use switchboard_store::now_ms;

use super::{Admin, reply};
use crate::app::App;

pub(super) async fn node(State(admin): State<Admin>) -> Response {
    reply(StatusCode::OK, &describe(&admin.app))
}

/// Who this node is and how long it has run.
pub(super) fn describe(app: &App) -> Value {
    json!({
        "node": app.node_id(),
        "version": env!("CARGO_PKG_VERSION"),
        "started_ms": app.started_ms(),
        "uptime_secs": uptime_secs(app),
        "draining": app.is_draining(),
        "store": app.config().store.name(),
    })
}

pub(super) fn uptime_secs(app: &App) -> u64 {
    now_ms().saturating_sub(app.started_ms()) / 1000
}

/// Stop taking new sessions; existing ones keep working.
pub(super) async fn drain(State(admin): State<Admin>) -> Response {
    if !admin.app.is_draining() {
        tracing::warn!(
            node = admin.app.node_id(),
            "draining: new sessions are refused from now on"
        );
    }
    admin.app.drain();
    reply(StatusCode::ACCEPTED, &json!({"draining": true}))
}
