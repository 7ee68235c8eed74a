//! `/healthz` (alive) and `/readyz` (ready to take traffic).

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use crate::app::App;
use crate::error::json_response;

pub(crate) async fn alive(State(app): State<App>) -> Response {
    let body = json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "sessions": app.live_sessions()});
    json_response(StatusCode::OK, body.to_string())
}

pub(crate) async fn ready(State(app): State<App>) -> Response {
    if app.shutdown_token().is_cancelled() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "draining"}).to_string(),
        );
    }
    match app.store().count().await {
        Ok(_) => json_response(StatusCode::OK, json!({"status": "ready"}).to_string()),
        Err(e) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "store": e.to_string()}).to_string(),
        ),
    }
}
