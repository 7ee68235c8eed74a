//! Small replies every front gives: a JSON body, 202 Accepted, an answer
//! sent at once (as JSON, or as a one-event stream to a client that only
//! takes streams), and the error of a call that outlived its time.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use switchboard_proto::{ErrorCode, RpcError};

use crate::accepts::Accepts;
use crate::sse;

/// A response with a JSON body.
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(axum::body::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Answer at once, as JSON if the client takes it, else as a one-event stream.
/// An owned body is not copied.
pub fn reply_now(accepts: Accepts, body: impl Into<String> + AsRef<str>) -> Response {
    if accepts.json {
        json_response(StatusCode::OK, body.into())
    } else {
        sse::single(body.as_ref())
    }
}

/// 202 Accepted, empty body: the answer to notifications and responses.
pub fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

/// The answer to a request that outlived `request_timeout_secs` (`secs`).
pub fn timed_out(secs: u64) -> RpcError {
    RpcError::new(
        ErrorCode::REQUEST_TIMEOUT,
        format!("request timed out after {secs} s and was cancelled"),
    )
}
