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

use crate::app::App;

pub(super) async fn list(State(admin): State<Admin>) -> Response {
    let app = &admin.app;
    let samples = super::scrape::parse(&app.metrics().encode());
    let tenants: Vec<Value> = app
        .gate()
        .tenants()
        .all()
        .map(|t| tenant(app, t, &samples))
        .collect();
    reply(StatusCode::OK, &json!({ "tenants": tenants }))
}

fn tenant(app: &App, t: &Tenant, samples: &[Sample]) -> Value {
    let id = &*t.id;
    let rate = app
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
        "usage": usage(app, id),
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
pub(super) fn usage(app: &App, tenant: &str) -> Value {
    json!({
        "sessions": app.gate().capacity().count(&tenant_key(tenant)),
        "streams": app.metrics().tenants.streams(tenant).get().max(0),
        "in_flight": app.gate().admission().tenant_stats(tenant).running,
        "upstream_processes": app.tenant_processes().map_or(0, |p| p.count(tenant)),
    })
}
