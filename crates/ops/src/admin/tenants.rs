//! `GET /admin/v1/tenants`: each tenant's live usage on this node against
//! its limits, and its request counters.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};
use switchboard_tenancy::Tenant;
use switchboard_tenancy::capacity::tenant_key;

use super::scrape::{Sample, sum};
use super::{Admin, reply};

use crate::ops::Ops;

pub(super) async fn list(State(admin): State<Admin>) -> Response {
    let ops = &admin.ops;
    let samples = super::scrape::parse(&ops.metrics().encode());
    let tenants: Vec<Value> = ops
        .gate()
        .tenants()
        .all()
        .map(|t| tenant(ops, t, &samples))
        .collect();
    reply(StatusCode::OK, &json!({ "tenants": tenants }))
}

fn tenant(ops: &Ops, t: &Tenant, samples: &[Sample]) -> Value {
    let id = &*t.id;
    let rate = ops
        .config()
        .tenants
        .iter()
        .find(|c| c.id == id)
        .and_then(|c| c.rate.as_ref())
        .map(|r| json!({"per_sec": r.per_second, "burst": r.burst}));
    let of = |s: &Sample| s.label("tenant") == id;
    json!({
        "id": id,
        "name": t.name,
        "weight": t.weight,
        "usage": usage(ops, id),
        "limits": {
            "max_sessions": t.max_sessions,
            "max_streams": t.max_streams,
            "max_in_flight": t.max_in_flight,
            "max_upstream_processes": t.max_upstream_processes,
            "rate": rate,
        },
        "counters": {
            "requests": sum(samples, "switchboard_tenant_requests_total", of),
            "errors": sum(samples, "switchboard_tenant_requests_total", |s| {
                of(s) && matches!(s.label("outcome"), "error" | "timeout")
            }),
            "rate_limited": sum(samples, "switchboard_tenant_rejections_total", |s| {
                of(s) && s.label("reason") == "rate_limited"
            }),
            "rejected": sum(samples, "switchboard_tenant_rejections_total", of),
        },
    })
}

/// What `tenant` holds on this node now.
pub(super) fn usage(ops: &Ops, tenant: &str) -> Value {
    json!({
        "sessions": ops.gate().capacity().count(&tenant_key(tenant)),
        "streams": ops.metrics().tenants.streams(tenant).get().max(0),
        "in_flight": ops.gate().admission().tenant_stats(tenant).running,
        "upstream_processes": ops.tenant_processes().map_or(0, |p| p.count(tenant)),
    })
}
