//! `/admin/v1/sessions`: the sessions live on this node — list, show one,
//! end one (its streams, handlers, upstream processes, record and event
//! log, through `Ops::end_session`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};
use switchboard_session::LiveSession;
use switchboard_store::{SessionRecord, now_ms};

use super::{Admin, error, reply};
use crate::ops::Ops;

/// Sessions listed when no `limit` is given.
const DEFAULT_LIMIT: usize = 100;
/// The most one list returns.
const MAX_LIMIT: usize = 10_000;

/// `?tenant=T&limit=N` (tenant ids need no escaping).
#[derive(Debug, Default)]
struct ListQuery {
    tenant: Option<String>,
    limit: Option<usize>,
}

impl ListQuery {
    fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut q = Self::default();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "tenant" => q.tenant = Some(v.to_owned()),
                "limit" => {
                    q.limit =
                        Some(v.parse().map_err(|_| {
                            format!("limit must be a non-negative integer, not {v:?}")
                        })?);
                }
                _ => return Err(format!("unknown query parameter {k:?} (tenant, limit)")),
            }
        }
        Ok(q)
    }
}

/// `GET /admin/v1/sessions?tenant=T&limit=N`: newest first.
pub(super) async fn list(State(admin): State<Admin>, uri: http::Uri) -> Response {
    let ops = &admin.ops;
    let q = match ListQuery::parse(uri.query()) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let mut live = ops.registry().all();
    live.sort_by_key(|l| l.age());
    let mut sessions = Vec::new();
    let mut total = 0;
    for l in live {
        let record = match ops.store().load(&l.id).await {
            Ok(r) => r,
            Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        };
        let s = summary(ops, &l, record.as_ref());
        if q.tenant.as_deref().is_some_and(|t| s["tenant"] != t) {
            continue;
        }
        total += 1;
        if sessions.len() < limit {
            sessions.push(s);
        }
    }
    reply(
        StatusCode::OK,
        &json!({"node": ops.node_id(), "sessions": sessions, "total": total}),
    )
}

/// `GET /admin/v1/sessions/{id}`: the summary, its upstream processes and
/// the client's `clientInfo`.
pub(super) async fn show(State(admin): State<Admin>, Path(id): Path<String>) -> Response {
    let ops = &admin.ops;
    let record = match ops.store().load(&id).await {
        Ok(r) => r,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let Some(live) = find(ops, &id) else {
        return error(StatusCode::NOT_FOUND, "no such session");
    };
    let mut s = summary(ops, &live, record.as_ref());
    s["upstream_processes"] = upstream_processes(ops, &id);
    s["client"] = record
        .as_ref()
        .and_then(|r| serde_json::from_str(r.client_info.get()).ok())
        .unwrap_or_else(|| json!({}));
    reply(StatusCode::OK, &s)
}

/// `DELETE /admin/v1/sessions/{id}`: end the session now.
pub(super) async fn end(State(admin): State<Admin>, Path(id): Path<String>) -> Response {
    let ops = &admin.ops;
    let live = find(ops, &id).is_some();
    match ops.end_session(&id).await {
        Ok(existed) if existed || live => {
            tracing::info!(session = %switchboard_observe::ids::short(&id), "session ended by an operator");
            reply(StatusCode::OK, &json!({"ended": true}))
        }
        Ok(_) => error(StatusCode::NOT_FOUND, "no such session"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// The live session `id` on this node, if any.
fn find(ops: &Ops, id: &str) -> Option<Arc<LiveSession>> {
    ops.registry().get(id)
}

/// The processes each upstream runs for this session alone.
fn upstream_processes(ops: &Ops, id: &str) -> Value {
    let procs: Vec<Value> = ops
        .catalog()
        .providers()
        .iter()
        .flat_map(|p| {
            p.session_processes(id)
                .into_iter()
                .map(move |pid| json!({"upstream": p.name(), "pid": pid}))
        })
        .collect();
    Value::Array(procs)
}

/// One session as the admin API shows it.
pub(super) fn summary(ops: &Ops, live: &LiveSession, record: Option<&SessionRecord>) -> Value {
    let now = now_ms();
    let age_ms = live.age().as_millis() as u64;
    let binding = record.and_then(|r| r.principal.as_deref());
    let (tenant, principal) = match (live.owner(), binding) {
        (_, Some(b)) => b.split_once('/').unwrap_or((b, "")),
        (Some((_, tenant)), None) => (tenant, ""),
        (None, None) => ("", ""),
    };
    let created_ms = record.map_or(now.saturating_sub(age_ms), |r| r.created_at_ms);
    let last_seen = record
        .map_or(0, |r| r.last_seen_ms)
        .max(live.last_seen_ms());
    let (requests, in_flight) = live.request_counts();
    json!({
        "id": &*live.id,
        "tenant": tenant,
        "principal": principal,
        "era": record.map_or("", |r| r.protocol_version.as_str()),
        "created_ms": created_ms,
        "age_secs": now.saturating_sub(created_ms) / 1000,
        "idle_secs": now.saturating_sub(last_seen) / 1000,
        "open_streams": live.open_streams.load(std::sync::atomic::Ordering::Relaxed),
        "in_flight": in_flight,
        "requests": requests,
        "node": ops.node_id(),
    })
}
