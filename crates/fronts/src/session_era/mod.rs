//! The Streamable HTTP endpoint `/mcp` for the session-based protocol
//! versions (2025-03-26 … 2025-11-25): POST, GET and DELETE.

mod batch;
mod get;
pub(crate) mod initialize;
pub(crate) mod post;
pub(crate) mod request;
pub(crate) mod session;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use switchboard_http::error::TransportError;

use crate::Fronts;
use crate::layers::Layers;

/// `/mcp` and `/mcp/<server>`: GET, POST and DELETE behind the
/// `Host`/`Origin` check, a POST with its access record; any other method
/// is refused.
pub(crate) fn routes(layers: &Layers) -> Router<Fronts> {
    let endpoint = || {
        let get_and_delete = layers.guarded(get(get::get).delete(session::delete));
        let messages = layers.recorded("mcp", post(post::post));
        get_and_delete.merge(messages).fallback(not_allowed)
    };
    // A virtual server's endpoint is the same (crate::servers).
    Router::new()
        .route("/mcp", endpoint())
        .route("/mcp/{server}", endpoint())
}

/// Any other HTTP method on `/mcp`.
pub(crate) async fn not_allowed() -> Response {
    TransportError::MethodNotAllowed.into_response()
}
