//! OAuth 2.0 protected-resource metadata (RFC 9728): where clients learn
//! which authorization servers issue tokens for this endpoint (and for
//! each virtual server's, at `…/oauth-protected-resource/mcp/<name>`). It is behind
//! the `Host`/`Origin` check of `/mcp`: built from `Host` when
//! `resource_url` is unset, it never names a host the endpoint refuses.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use switchboard_http::reply::json_response;
use switchboard_runtime::Catalog;
use switchboard_tenancy::{Gate, METADATA_PATH};

use crate::Fronts;
use crate::layers::Layers;

/// `GET /.well-known/oauth-protected-resource` and below it, behind the
/// `Host`/`Origin` check.
pub(crate) fn routes(layers: &Layers) -> axum::Router<Fronts> {
    let document = || layers.guarded(axum::routing::get(document));
    axum::Router::new()
        .route(METADATA_PATH, document())
        .route(&format!("{}/{{*resource}}", METADATA_PATH), document())
}

/// `GET /.well-known/oauth-protected-resource[/…]`: the tenants' settings
/// (from the gate) and the server's name (from the catalog).
pub(crate) async fn document(
    State(gate): State<Gate>,
    State(catalog): State<Arc<Catalog>>,
    uri: http::Uri,
    headers: HeaderMap,
) -> Response {
    let t = gate.tenants();
    // `/.well-known/oauth-protected-resource/mcp/<name>`: a virtual
    // server's endpoint is a resource of its own.
    let server = uri
        .path()
        .strip_prefix(METADATA_PATH)
        .and_then(|rest| rest.strip_prefix("/mcp/"))
        .and_then(|name| t.server(name));
    let name = server.map_or(&catalog.info().name, |s| &s.info.name);
    let body = json!({
        "resource": t.resource_url_of(&headers, server.map(|s| &**s)),
        "authorization_servers": t.authorization_servers,
        "scopes_supported": t.scopes_supported,
        "bearer_methods_supported": ["header"],
        "resource_name": name,
    });
    let mut resp = json_response(StatusCode::OK, body.to_string());
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("max-age=300"),
    );
    resp
}
