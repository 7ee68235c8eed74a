//! The one place where transport failures become HTTP statuses and JSON-RPC
//! error bodies. Nothing is logged here: callers log where they have context.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;
use switchboard_proto::version::ALL_SUPPORTED;
use switchboard_proto::{ErrorCode, ParseError, RequestId, RpcError, error_json};
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
    #[error("unsupported protocol version {0:?}")]
    UnsupportedModernVersion(String),
    #[error("header mismatch: {0}")]
    HeaderMismatch(String),
    #[error("invalid params: {0}")]
    MissingMeta(String),
    #[error("method not found: {0}")]
    MethodNotFound(String),
    #[error("the request needs the client capability {0:?}, which it did not declare")]
    MissingCapability(&'static str),
    #[error("invalid params: {0}")]
    BadRequestState(String),
    #[error("invalid request: a client may not send a response without a session")]
    UnexpectedResponse,
    #[error("internal error: the handler failed")]
    HandlerFailed,
    #[error("server busy ({}): try again shortly", .0.reason())]
    Overloaded(switchboard_limits::Rejected),
    #[error("no room for a new session ({0}): try again shortly")]
    SessionCap(&'static str),
    #[error("too many open streams: a session may hold {0}")]
    StreamCap(usize),
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
            | BodyRead(_)
            | UnsupportedModernVersion(_)
            | HeaderMismatch(_)
            | MissingMeta(_)
            | MissingCapability(_)
            | BadRequestState(_)
            | UnexpectedResponse => StatusCode::BAD_REQUEST,
            ForbiddenOrigin(_) | ForbiddenHost(_) => StatusCode::FORBIDDEN,
            NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnknownSession | MethodNotFound(_) => StatusCode::NOT_FOUND,
            StreamConflict => StatusCode::CONFLICT,
            StreamCap(_) => StatusCode::TOO_MANY_REQUESTS,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Store(_) | Overloaded(_) | SessionCap(_) => StatusCode::SERVICE_UNAVAILABLE,
            HandlerFailed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn rpc(&self) -> RpcError {
        use TransportError::*;
        match self {
            Parse(p) => p.to_rpc(),
            UnknownSession | MissingSession | BadSessionHeader => {
                RpcError::new(ErrorCode::SESSION_ERROR, self.to_string())
            }
            Store(_) | Overloaded(_) | SessionCap(_) => {
                RpcError::new(ErrorCode::SERVER_BUSY, self.to_string())
            }
            UnsupportedModernVersion(requested) => {
                RpcError::new(ErrorCode::UNSUPPORTED_PROTOCOL_VERSION, self.to_string())
                    .with_data(json!({"supported": ALL_SUPPORTED, "requested": requested}))
            }
            HeaderMismatch(_) => RpcError::new(ErrorCode::HEADER_MISMATCH, self.to_string()),
            MissingMeta(_) | BadRequestState(_) => RpcError::invalid_params(self.to_string()),
            MethodNotFound(m) => RpcError::method_not_found(m),
            HandlerFailed => RpcError::internal(self.to_string()),
            MissingCapability(cap) => {
                RpcError::new(ErrorCode::MISSING_CLIENT_CAPABILITY, self.to_string())
                    .with_data(json!({"requiredCapabilities": {*cap: {}}}))
            }
            _ => RpcError::invalid_request(self.to_string()),
        }
    }
}

impl IntoResponse for TransportError {
    fn into_response(self) -> Response {
        self.response_for(None)
    }
}

impl TransportError {
    /// The error response, naming the request's id when it is known.
    pub fn response_for(&self, id: Option<&RequestId>) -> Response {
        let mut resp = json_response(self.status(), error_json(id, &self.rpc()));
        if matches!(
            self.status(),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
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
