//! `GET /admin/v1/upstreams`: every configured upstream — its processes,
//! breaker, restarts and kills (from `Provider::health`) and its request
//! and error counts (from the upstream metrics).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};
use switchboard_runtime::ProviderHealth;

use super::scrape::{Sample, sum};
use super::{Admin, reply};
use crate::ops::Ops;

pub(super) async fn list(State(admin): State<Admin>) -> Response {
    let samples = super::scrape::parse(&admin.ops.metrics().encode());
    reply(
        StatusCode::OK,
        &json!({ "upstreams": all(&admin.ops, &samples) }),
    )
}

/// Every configured upstream, in configuration order.
pub(super) fn all(ops: &Ops, samples: &[Sample]) -> Vec<Value> {
    let providers = ops.catalog().providers();
    ops.config()
        .upstreams
        .iter()
        .map(|u| {
            let health = providers.iter().find(|p| p.name() == u.name).map_or_else(
                || ProviderHealth {
                    breaker: "closed",
                    kind: "builtin",
                    prefix: u.prefix.clone().unwrap_or_default(),
                    ..ProviderHealth::default()
                },
                |p| p.health(),
            );
            upstream(&u.name, &health, samples)
        })
        .collect()
}

fn upstream(name: &str, h: &ProviderHealth, samples: &[Sample]) -> Value {
    let of = |s: &Sample| s.label("upstream") == name;
    let requests = sum(
        samples,
        "switchboard_upstream_request_duration_seconds_count",
        of,
    )
    .max(h.calls);
    json!({
        "name": name,
        "kind": h.kind,
        "prefix": h.prefix,
        "breaker": h.breaker,
        "processes": {"running": h.processes, "starting": h.starting, "idle": h.idle},
        "restarts": h.restarts,
        "kills": h.kills,
        "requests": requests,
        "errors": sum(samples, "switchboard_upstream_errors_total", of),
        "tools": h.tools,
    })
}
