//! `/healthz` and `/health` (alive), `/readyz` (ready to take traffic)
//! and `/metrics`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use serde_json::json;
use switchboard_http::reply::json_response;

use crate::ops::Ops;

impl Ops {
    /// The health, readiness and metrics routes.
    pub fn routes(&self) -> Router {
        Router::new()
            .route("/healthz", get(alive))
            .route("/health", get(alive))
            .route("/readyz", get(ready))
            .route("/metrics", get(metrics))
            .with_state(self.clone())
    }
}

async fn alive(State(ops): State<Ops>) -> Response {
    let app = ops.parts();
    let body = json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "sessions": app.sessions.registry().len()});
    json_response(StatusCode::OK, body.to_string())
}

async fn ready(State(ops): State<Ops>) -> Response {
    let app = ops.parts();
    if app.lifecycle.shutdown().is_cancelled() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "draining", "reason": "shutting down"}).to_string(),
        );
    }
    if app.lifecycle.is_draining() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "draining", "reason": "drained by an operator: no new sessions"})
                .to_string(),
        );
    }
    // An upstream with an open breaker does not make the node unready (its
    // other tools still work), but it is named here.
    let upstreams: Vec<serde_json::Value> = app
        .catalog
        .providers()
        .iter()
        .map(|p| {
            let h = p.health();
            json!({"name": p.name(), "breaker": h.breaker, "processes": h.processes})
        })
        .collect();
    match app.sessions.store().count().await {
        Ok(_) => json_response(
            StatusCode::OK,
            json!({"status": "ready", "upstreams": upstreams}).to_string(),
        ),
        Err(e) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "store": e.to_string()}).to_string(),
        ),
    }
}

/// `GET /metrics`: the Prometheus text exposition.
/// With `auth.metrics_token_sha256` set, only a scraper presenting that
/// token as a bearer token gets them (they name every tenant).
async fn metrics(State(ops): State<Ops>, headers: http::HeaderMap) -> Response {
    let app = ops.parts();
    if !app.gate.tenants().may_scrape(&headers) {
        let mut resp = json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": "the metrics need the configured bearer token"}).to_string(),
        );
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return resp;
    }
    ops.check_capacity().await;
    app.metrics.upstreams.update(&app.catalog.providers());
    let mut resp = Response::new(axum::body::Body::from(app.metrics.encode()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    resp
}
