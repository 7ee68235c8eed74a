//! The one place where transport failures become HTTP statuses and JSON-RPC
//! error bodies. Nothing is logged here: callers log where they have context.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use switchboard_proto::{ErrorCode, ParseError, RpcError, error_json};
use switchboard_store::StoreError;

/// Why a request to the MCP endpoint was refused before reaching a handler.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("forbidden: origin {0:?} is not allowed")]
    ForbiddenOrigin(String),
    #[error("forbidden: host {0:?} is not allowed")]
    ForbiddenHost(String),
    #[error("not acceptable: the Accept header must allow {0}")]
    NotAcceptable(&'static str),
    #[error("unsupported media type: the body must be application/json")]
    UnsupportedMediaType,
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("could not read the request body: {0}")]
    BodyRead(String),
    #[error("bad request: missing Mcp-Session-Id header")]
    MissingSession,
    #[error("session not found")]
    UnknownSession,
    #[error("bad request: invalid Mcp-Session-Id header")]
    BadSessionHeader,
    #[error("bad request: unsupported protocol version {0:?} (supported: {1})")]
    UnsupportedVersion(String, String),
    #[error("invalid request: JSON-RPC batches are not supported in protocol version {0}")]
    BatchNotSupported(String),
    #[error(
        "invalid request: initialize must not carry an Mcp-Session-Id; the session is already initialized"
    )]
    AlreadyInitialized,
    #[error("invalid request: initialize must be sent alone, not in a batch")]
    InitializeInBatch,
    #[error("conflict: this session already has an open standalone stream")]
    StreamConflict,
    #[error("bad request: invalid Last-Event-ID {0:?}")]
    BadLastEventId(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the session store is unavailable")]
    Store(#[from] StoreError),
}

impl TransportError {
    pub fn status(&self) -> StatusCode {
        use TransportError::*;
        match self {
            Parse(_)
            | MissingSession
            | BadSessionHeader
            | UnsupportedVersion(..)
            | BatchNotSupported(_)
            | AlreadyInitialized
            | InitializeInBatch
            | BadLastEventId(_)
            | BodyRead(_) => StatusCode::BAD_REQUEST,
            ForbiddenOrigin(_) | ForbiddenHost(_) => StatusCode::FORBIDDEN,
            NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnknownSession => StatusCode::NOT_FOUND,
            StreamConflict => StatusCode::CONFLICT,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn rpc(&self) -> RpcError {
        use TransportError::*;
        match self {
            Parse(p) => p.to_rpc(),
            UnknownSession | MissingSession | BadSessionHeader => {
                RpcError::new(ErrorCode::SESSION_ERROR, self.to_string())
            }
            Store(_) => RpcError::new(ErrorCode::SERVER_BUSY, self.to_string()),
            _ => RpcError::invalid_request(self.to_string()),
        }
    }
}

impl IntoResponse for TransportError {
    fn into_response(self) -> Response {
        let mut resp = json_response(self.status(), error_json(None, &self.rpc()));
        if matches!(self, TransportError::Store(_)) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if matches!(self, TransportError::MethodNotAllowed) {
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
        }
        resp
    }
}

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
