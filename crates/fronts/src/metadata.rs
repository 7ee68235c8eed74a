//! OAuth 2.0 protected-resource metadata (RFC 9728): where clients learn
//! which authorization servers issue tokens for this endpoint. It passes
//! the `Host`/`Origin` check of `/mcp`: built from `Host` when
//! `resource_url` is unset, it never names a host the endpoint refuses.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::json;
use switchboard_http::reply::json_response;
use switchboard_tenancy::METADATA_PATH;

use crate::Fronts;

/// `GET /.well-known/oauth-protected-resource` and below it.
pub(crate) fn routes() -> axum::Router<Fronts> {
    axum::Router::new()
        .route(METADATA_PATH, axum::routing::get(document))
        .route(
            &format!("{}/{{*resource}}", METADATA_PATH),
            axum::routing::get(document),
        )
}

/// `GET /.well-known/oauth-protected-resource[/…]`.
pub(crate) async fn document(State(app): State<Fronts>, headers: HeaderMap) -> Response {
    if let Err(e) = app.hosts().check(&headers) {
        return e.into_response();
    }
    let t = app.gate().tenants();
    let body = json!({
        "resource": app.gate().resource_url(&headers),
        "authorization_servers": t.authorization_servers,
        "scopes_supported": t.scopes_supported,
        "bearer_methods_supported": ["header"],
        "resource_name": app.catalog().info().name,
    });
    let mut resp = json_response(StatusCode::OK, body.to_string());
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("max-age=300"),
    );
    resp
}
