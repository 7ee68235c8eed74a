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
use axum::routing::get;

use switchboard_http::error::TransportError;

use crate::Fronts;

/// `/mcp`: GET, POST and DELETE; any other method is refused.
pub(crate) fn routes() -> Router<Fronts> {
    Router::new().route(
        "/mcp",
        get(get::get)
            .post(post::post)
            .delete(session::delete)
            .fallback(not_allowed),
    )
}

/// Any other HTTP method on `/mcp`.
pub(crate) async fn not_allowed() -> Response {
    TransportError::MethodNotAllowed.into_response()
}
