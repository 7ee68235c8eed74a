//! `/admin/v1/upstreams/{upstream}/pins`: the upstream's pinned tool
//! definitions — approved, changed (with a diff of the approved and the
//! pending definition) or new — and
//! `POST …/pins/{tool}/approve` to approve the pending one (optionally
//! only if its digest is the one the admin reviewed, `{"digest": …}`).
//! Approvals live in the shared store, so every node agrees; an approval
//! tells every connected client that the tool list changed.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};
use switchboard_runtime::ServerEvent;

use super::{Admin, error, reply};

/// The upstream's pins.
pub(super) async fn list(State(admin): State<Admin>, Path(upstream): Path<String>) -> Response {
    let ops = &admin.ops;
    let Some(config) = ops
        .config()
        .upstreams
        .iter()
        .find(|u| u.name == upstream)
        .cloned()
    else {
        return error(StatusCode::NOT_FOUND, "no such upstream");
    };
    match ops.pins().views(&upstream).await {
        Ok(pins) => reply(
            StatusCode::OK,
            &json!({ "upstream": upstream, "pinning": config.pinning, "pins": pins }),
        ),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// Approve the pending definition of `tool`.
pub(super) async fn approve(
    State(admin): State<Admin>,
    Path((upstream, tool)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let ops = &admin.ops;
    if !ops.config().upstreams.iter().any(|u| u.name == upstream) {
        return error(StatusCode::NOT_FOUND, "no such upstream");
    }
    let digest = match body.is_empty() {
        true => None,
        false => match serde_json::from_slice::<Value>(&body) {
            Ok(v) if v.is_object() && v.get("digest").is_none_or(Value::is_string) => {
                v.get("digest").and_then(Value::as_str).map(str::to_owned)
            }
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "the body is empty or {\"digest\": \"<the pending definition's digest>\"}",
                );
            }
        },
    };
    match ops
        .pins()
        .approve(&upstream, &tool, digest.as_deref())
        .await
    {
        Ok(Some(seen)) => {
            ops.gate()
                .audit()
                .record(&switchboard_observe::audit::AuditEvent {
                    event: "tool_definition_approved",
                    upstream: Some(&upstream),
                    tool: Some(&tool),
                    outcome: "approved",
                    detail: Some(&seen.digest),
                    ..Default::default()
                });
            tracing::info!(upstream, tool, digest = %seen.digest, "tool definition approved");
            // On a cluster the catalog's bus reaches every node's clients;
            // each node reads the approval when it lists again.
            ops.catalog().bus().publish(ServerEvent::ToolsListChanged);
            reply(StatusCode::OK, &json!({ "approved": seen }))
        }
        Ok(None) => error(
            StatusCode::CONFLICT,
            "nothing awaits approval for this tool (or its pending digest is another)",
        ),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}
