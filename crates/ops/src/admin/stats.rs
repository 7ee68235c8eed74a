//! `GET /admin/v1/stats`: one snapshot for the dashboard. Counters are
//! cumulative (the page diffs successive polls); gauges are now.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};
use switchboard_config::StoreKind;
use switchboard_store::now_ms;
use switchboard_tenancy::capacity::tenant_key;
use switchboard_upstream::gateway::PoolMode;

use super::scrape::{Sample, sum};
use super::{Admin, error, reply};

use crate::ops::Ops;

/// Sessions in `top_sessions`.
const TOP: usize = 10;

pub(super) async fn snapshot(State(admin): State<Admin>) -> Response {
    let ops = &admin.ops;
    let samples = super::scrape::parse(&ops.metrics().encode());
    let cluster = match ops.config().store {
        StoreKind::Redis => match ops.store().count().await {
            Ok(n) => json!({"nodes": null, "sessions": n}),
            Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        },
        _ => Value::Null,
    };
    let adm = ops.admission_stats();
    let body = json!({
        "node": ops.node_id(),
        "time_ms": now_ms(),
        "uptime_secs": super::node::uptime_secs(ops),
        "draining": ops.is_draining(),
        "sessions": sessions(ops),
        "streams": ops.metrics().sessions.streams.get().max(0),
        "requests": {"by_method": by_method(&samples)},
        "queue": {
            "in_flight": adm.in_flight,
            "queued": adm.queued,
            "max_in_flight": adm.max_in_flight,
            "max_queue": adm.max_queue,
        },
        "rejections": rejections(&samples),
        "upstreams": super::upstreams::all(ops, &samples),
        "top_sessions": top_sessions(ops),
        "capacity": capacity(ops),
        "cluster": cluster,
    });
    reply(StatusCode::OK, &body)
}

/// Live sessions on this node, in total and by tenant.
fn sessions(ops: &Ops) -> Value {
    let mut by_tenant = Map::new();
    for t in ops.gate().tenants().all() {
        let n = ops.gate().capacity().count(&tenant_key(&t.id));
        by_tenant.insert(t.id.to_string(), json!(n));
    }
    json!({"total": ops.live_sessions(), "by_tenant": by_tenant})
}

/// Requests, errors and the latency histogram (in ms) of each method.
fn by_method(samples: &[Sample]) -> Value {
    let mut out = BTreeMap::<String, Value>::new();
    for s in samples
        .iter()
        .filter(|s| s.name == "switchboard_requests_total")
    {
        let m = out
            .entry(s.label("method").to_owned())
            .or_insert_with(|| json!({"count": 0, "errors": 0}));
        let n = s.value as u64;
        m["count"] = json!(m["count"].as_u64().unwrap_or(0) + n);
        if matches!(s.label("outcome"), "error" | "timeout") {
            m["errors"] = json!(m["errors"].as_u64().unwrap_or(0) + n);
        }
    }
    for (method, m) in &mut out {
        let of = |s: &&Sample| s.label("method") == method;
        let buckets: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.name == "switchboard_request_duration_seconds_bucket")
            .filter(of)
            .filter(|s| s.label("le") != "+Inf")
            .collect();
        let le_ms: Vec<f64> = buckets
            .iter()
            .filter_map(|s| s.label("le").parse::<f64>().ok())
            .map(|le| (le * 1e6).round() / 1e3)
            .collect();
        let counts: Vec<u64> = buckets.iter().map(|s| s.value as u64).collect();
        let sum_s = samples
            .iter()
            .filter(|s| s.name == "switchboard_request_duration_seconds_sum")
            .filter(of)
            .map(|s| s.value)
            .sum::<f64>();
        m["latency"] = json!({"le_ms": le_ms, "counts": counts, "sum_ms": sum_s * 1e3});
    }
    json!(out)
}

/// Refusals by reason: the node's (`switchboard_rejections`) and the
/// tenants' rate limits and quotas.
fn rejections(samples: &[Sample]) -> Value {
    let mut out = BTreeMap::<String, u64>::new();
    for s in samples
        .iter()
        .filter(|s| s.name == "switchboard_rejections_total")
    {
        *out.entry(s.label("reason").to_owned()).or_default() += s.value as u64;
    }
    for reason in ["rate_limited", "quota"] {
        out.insert(
            reason.to_owned(),
            sum(samples, "switchboard_tenant_rejections_total", |s| {
                s.label("reason") == reason
            }),
        );
    }
    json!(out)
}

/// The busiest live sessions, most requests first.
fn top_sessions(ops: &Ops) -> Value {
    let now = now_ms();
    let mut all: Vec<_> = ops
        .registry()
        .all()
        .into_iter()
        .map(|l| (l.request_counts(), l))
        .collect();
    all.sort_by_key(|b| std::cmp::Reverse(b.0.0));
    let top: Vec<Value> = all
        .into_iter()
        .take(TOP)
        .map(|((requests, in_flight), l)| {
            json!({
                "id": &*l.id,
                "tenant": l.owner().map_or("", |(_, t)| t),
                "requests": requests,
                "in_flight": in_flight,
                "open_streams": l.open_streams.load(std::sync::atomic::Ordering::Relaxed),
                "idle_secs": now.saturating_sub(l.last_seen_ms()) / 1000,
            })
        })
        .collect();
    Value::Array(top)
}

/// Every finite cap and its use now.
fn capacity(ops: &Ops) -> Value {
    let c = ops.config();
    let adm = ops.admission_stats();
    let entry = |name: String, used: usize, limit: usize| json!({"name": name, "used": used, "limit": limit});
    let mut out = vec![
        entry("sessions".into(), ops.live_sessions(), c.max_sessions),
        entry(
            "connections".into(),
            ops.conns().open(switchboard_http::conns::Pool::Main),
            ops.conns().limits().total,
        ),
        entry("in_flight".into(), adm.in_flight, adm.max_in_flight),
        entry("queue".into(), adm.queued, adm.max_queue),
    ];
    for t in ops.gate().tenants().all() {
        let usage = super::tenants::usage(ops, &t.id);
        let used = |k: &str| usage[k].as_u64().unwrap_or(0) as usize;
        for (what, limit) in [
            ("sessions", t.max_sessions),
            ("streams", t.max_streams),
            ("in_flight", t.max_in_flight),
            ("upstream_processes", t.max_upstream_processes),
        ] {
            if let Some(limit) = limit {
                out.push(entry(format!("tenant {} {what}", t.id), used(what), limit));
            }
        }
    }
    let providers = ops.catalog().providers();
    for u in &c.upstreams {
        let Some(p) = providers.iter().find(|p| p.name() == u.name) else {
            continue;
        };
        let limit = match u.mode {
            PoolMode::PerSession => u.max_processes,
            PoolMode::Shared => u.processes,
        };
        out.push(entry(
            format!("upstream {} processes", u.name),
            p.health().processes,
            limit,
        ));
    }
    Value::Array(out)
}
