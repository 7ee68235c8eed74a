//! The Streamable HTTP endpoint `/mcp` for the session-based protocol
//! versions (2025-03-26 … 2025-11-25): POST, GET and DELETE.

mod batch;
mod get;
pub(crate) mod initialize;
pub(crate) mod post;
pub(crate) mod request;
pub(crate) mod session;

use axum::response::{IntoResponse, Response};

pub(crate) use get::get;
pub(crate) use post::post;
pub(crate) use session::delete;

use switchboard_http::error::TransportError;

/// Any other HTTP method on `/mcp`.
pub(crate) async fn not_allowed() -> Response {
    TransportError::MethodNotAllowed.into_response()
}
