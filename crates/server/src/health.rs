//! `/healthz` (alive) and `/readyz` (ready to take traffic).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::json;
use switchboard_http::reply::json_response;

use crate::app::App;

pub(crate) async fn alive(State(app): State<App>) -> Response {
    let body = json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "sessions": app.live_sessions()});
    json_response(StatusCode::OK, body.to_string())
}

pub(crate) async fn ready(State(app): State<App>) -> Response {
    if app.shutdown_token().is_cancelled() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "draining", "reason": "shutting down"}).to_string(),
        );
    }
    if app.is_draining() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "draining", "reason": "drained by an operator: no new sessions"})
                .to_string(),
        );
    }
    // An upstream with an open breaker does not make the node unready (its
    // other tools still work), but it is named here.
    let upstreams: Vec<serde_json::Value> = app
        .catalog()
        .providers()
        .iter()
        .map(|p| {
            let h = p.health();
            json!({"name": p.name(), "breaker": h.breaker, "processes": h.processes})
        })
        .collect();
    match app.store().count().await {
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
pub(crate) async fn metrics(State(app): State<App>, headers: http::HeaderMap) -> Response {
    if !app.gate().tenants().may_scrape(&headers) {
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
    app.check_capacity().await;
    app.metrics().upstreams.update(&app.catalog().providers());
    let mut resp = Response::new(axum::body::Body::from(app.metrics().encode()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    resp
}
