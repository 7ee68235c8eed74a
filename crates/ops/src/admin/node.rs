//! `GET /admin/v1/node` and `POST /admin/v1/drain`.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};
use switchboard_store::now_ms;

use super::{Admin, reply};
use crate::ops::Ops;

pub(super) async fn node(State(admin): State<Admin>) -> Response {
    reply(StatusCode::OK, &describe(&admin.ops))
}

/// Who this node is and how long it has run.
pub(super) fn describe(ops: &Ops) -> Value {
    json!({
        "node": ops.node_id(),
        "version": env!("CARGO_PKG_VERSION"),
        "started_ms": ops.started_ms(),
        "uptime_secs": uptime_secs(ops),
        "draining": ops.is_draining(),
        "store": ops.config().store.name(),
    })
}

pub(super) fn uptime_secs(ops: &Ops) -> u64 {
    now_ms().saturating_sub(ops.started_ms()) / 1000
}

/// Stop taking new sessions; existing ones keep working.
pub(super) async fn drain(State(admin): State<Admin>) -> Response {
    if !admin.ops.is_draining() {
        tracing::warn!(
            node = admin.ops.node_id(),
            "draining: new sessions are refused from now on"
        );
    }
    admin.ops.drain();
    reply(StatusCode::ACCEPTED, &json!({"draining": true}))
}
