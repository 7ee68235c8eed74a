//! Reading a request's body under a limit.

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::TransportError;

/// The body's length as its `Content-Length` declares it, if it does (and
/// says a number).
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Read the body, refusing more than `limit` bytes with 413 (at once when
/// `Content-Length` declares more).
pub async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, TransportError> {
    if declared_length(headers).is_some_and(|n| n > limit as u64) {
        return Err(TransportError::BodyTooLarge(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(TransportError::BodyTooLarge(limit))
        }
        Err(e) => Err(TransportError::BodyRead(e.to_string())),
    }
}
