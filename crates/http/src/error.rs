//! The one place where transport failures become HTTP statuses and JSON-RPC
//! error bodies. Nothing is logged here: callers log where they have context.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;
use switchboard_observe::metrics::Refusal;
use switchboard_proto::version::ALL_SUPPORTED;
use switchboard_proto::{ErrorCode, ParseError, RequestId, RpcError, error_json};
use switchboard_store::StoreError;

use crate::reply::json_response;

/// Why a request to the MCP endpoint was refused before reaching a handler.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The body is not JSON-RPC (or not JSON): the parser's own error.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// An `Origin` naming a host that is not allowed (DNS rebinding).
    #[error("forbidden: origin {0:?} is not allowed")]
    ForbiddenOrigin(String),
    /// A `Host` naming a host that is not allowed (DNS rebinding).
    #[error("forbidden: host {0:?} is not allowed")]
    ForbiddenHost(String),
    /// The caller's tenant may not use this virtual server.
    #[error("forbidden: this tenant may not use the server {0:?}")]
    ForbiddenServer(String),
    /// `/mcp/<name>` names no virtual server.
    #[error("not found: no server {0:?} (see [[servers]])")]
    UnknownServer(String),
    /// A header that may appear once appears more than once.
    #[error("bad request: more than one {0} header")]
    RepeatedHeader(&'static str),
    /// The `Accept` header allows none of the types the answer may take.
    #[error("not acceptable: the Accept header must allow {0}")]
    NotAcceptable(&'static str),
    /// A body not declared as `application/json`.
    #[error("unsupported media type: the body must be application/json")]
    UnsupportedMediaType,
    /// A body over `max_body_bytes` (the limit).
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(usize),
    /// The body could not be read (the connection failed mid-body).
    #[error("could not read the request body: {0}")]
    BodyRead(String),
    /// A session-era request other than `initialize` without a session id.
    #[error("bad request: missing Mcp-Session-Id header")]
    MissingSession,
    /// A session id no store knows (expired, ended or never made).
    #[error("session not found")]
    UnknownSession,
    /// A session id that is not 1 to 256 visible ASCII characters.
    #[error("bad request: invalid Mcp-Session-Id header")]
    BadSessionHeader,
    /// A session-era version header naming no version spoken here: the
    /// version asked for, and the supported ones.
    #[error("bad request: unsupported protocol version {0:?} (supported: {1})")]
    UnsupportedVersion(String, String),
    /// A batch on a version that has none (only 2025-03-26 has them).
    #[error("invalid request: JSON-RPC batches are not supported in protocol version {0}")]
    BatchNotSupported(String),
    /// `initialize` on a session that exists.
    #[error(
        "invalid request: initialize must not carry an Mcp-Session-Id; the session is already initialized"
    )]
    AlreadyInitialized,
    /// `initialize` inside a batch.
    #[error("invalid request: initialize must be sent alone, not in a batch")]
    InitializeInBatch,
    /// A second standalone GET stream of one session.
    #[error("conflict: this session already has an open standalone stream")]
    StreamConflict,
    /// A `Last-Event-ID` that names no event of this server.
    #[error("bad request: invalid Last-Event-ID {0:?}")]
    BadLastEventId(String),
    /// An HTTP method the endpoint does not serve.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The store failed (or refused a record too large).
    #[error("the session store is unavailable")]
    Store(#[from] StoreError),
    /// A stateless request naming a version spoken nowhere here.
    #[error("unsupported protocol version {0:?}")]
    UnsupportedModernVersion(String),
    /// A mirrored header (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`,
    /// `Mcp-Param-*`) that does not match the body.
    #[error("header mismatch: {0}")]
    HeaderMismatch(String),
    /// A stateless request's `_meta` (or retry fields) missing or malformed.
    #[error("invalid params: {0}")]
    MissingMeta(String),
    /// Params the method's reader refuses (not an object, a field missing
    /// or of the wrong type): 400 with the reader's -32602.
    #[error("invalid params: {}", .0.message)]
    InvalidParams(RpcError),
    /// A method not served (on the stateless path: 404).
    #[error("method not found: {0}")]
    MethodNotFound(String),
    /// The request needs a client capability the client did not declare.
    #[error("the request needs the client capability {0:?}, which it did not declare")]
    MissingCapability(&'static str),
    /// The request needs a client extension the client did not declare.
    #[error("the request needs the client extension {0:?}, which it did not declare")]
    MissingExtension(&'static str),
    /// A task id no task of the caller has.
    #[error("invalid params: unknown task")]
    UnknownTask,
    /// A `requestState` that does not open (tampered, expired, another
    /// key or another request).
    #[error("invalid params: {0}")]
    BadRequestState(String),
    /// A JSON-RPC response sent without a session to route it in.
    #[error("invalid request: a client may not send a response without a session")]
    UnexpectedResponse,
    /// The handler ended without an answer (it panicked).
    #[error("internal error: the handler failed")]
    HandlerFailed,
    /// Admission refused the request: its queue is full (429 when only its
    /// tenant's share of it is), it waited too long, or it was shed at
    /// arrival.
    #[error("server busy ({}): try again shortly", .0.reason())]
    Overloaded(switchboard_limits::Rejected),
    /// No room for a new session under a session cap (the cap named).
    #[error("no room for a new session ({0}): try again shortly")]
    SessionCap(&'static str),
    /// Over a connection cap: refused as it was accepted, or a connection
    /// of the probe reserve asking for more than a probe.
    #[error("too many connections ({0}): try again shortly")]
    ConnectionCap(&'static str),
    /// Over the open-stream cap of one session.
    #[error("too many open streams: a session may hold {0}")]
    StreamCap(usize),
    /// No credentials, or credentials that do not verify: 401 with a challenge.
    #[error("unauthorized: {}", .0.description.as_deref().unwrap_or("a bearer token is required"))]
    Unauthenticated(Challenge),
    /// Credentials that cannot be read: 400 with a challenge.
    #[error("bad request: {}", .0.description.as_deref().unwrap_or("malformed credentials"))]
    BadCredentials(Challenge),
    /// A token without the scopes the tool needs: 403 with a challenge.
    #[error("forbidden: this tool needs the scopes {:?}", .0.scope.as_deref().unwrap_or_default())]
    InsufficientScope(Challenge),
    /// The identity provider cannot be asked (JWKS unreachable, say).
    #[error("authentication is unavailable: {0}")]
    AuthUnavailable(String),
    /// The rate limiter (e.g. Redis) cannot answer: 503, retry soon.
    #[error("rate limits cannot be checked: {0}")]
    LimiterUnavailable(String),
    /// Over a rate limit (the limit named), and when to retry.
    #[error("rate limit exceeded ({limit}): retry in {} ms", retry_after.as_millis())]
    RateLimited {
        /// The limit's name (`tenant_rps`, `session_rps`, …).
        limit: &'static str,
        /// How long until a request would be allowed.
        retry_after: std::time::Duration,
    },
    /// Over a tenant quota (the quota named).
    #[error("tenant quota exceeded: {0}")]
    Quota(&'static str),
    /// What a session or a task would keep of its client is over
    /// `max_session_bytes`.
    #[error("invalid params: {what} would take {bytes} bytes, more than max_session_bytes ({max})")]
    TooLarge {
        /// What would be kept (`the session's record`, a task).
        what: &'static str,
        /// Its size in bytes.
        bytes: usize,
        /// `max_session_bytes`.
        max: usize,
    },
    /// The node is draining (admin API): no new sessions here.
    #[error("this node is draining and takes no new sessions: connect to another node")]
    Draining,
    /// An internal forwarding header that does not verify (forged, stale,
    /// or for another session or body).
    #[error("invalid internal forwarding header")]
    ForgedForward,
    /// The node owning the session's upstream process cannot be reached
    /// and its lease has not lapsed yet.
    #[error("the node serving this session's upstream process is unreachable: {0}; retry shortly")]
    OwnerUnreachable(String),
}

/// A `WWW-Authenticate: Bearer` (or `DPoP`) challenge (RFC 6750 §3, RFC
/// 9728 §5.1, RFC 9449 §7.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// The URL of this resource's protected-resource metadata.
    pub resource_metadata: String,
    /// `invalid_request`, `invalid_token` or `insufficient_scope`.
    pub error: Option<&'static str>,
    /// A human-readable reason (never the credential).
    pub description: Option<String>,
    /// The scopes needed, space-separated.
    pub scope: Option<String>,
    /// A `DPoP` challenge (RFC 9449 §7.1) rather than `Bearer`.
    pub dpop: bool,
    /// A nonce the client must put in its next DPoP proof (`DPoP-Nonce`).
    pub dpop_nonce: Option<Box<str>>,
}

impl Challenge {
    /// The header value.
    pub fn header(&self) -> String {
        let quote = |v: &str| v.replace(['"', '\\'], "'");
        let mut parts = vec![format!(
            "resource_metadata=\"{}\"",
            quote(&self.resource_metadata)
        )];
        if let Some(e) = self.error {
            parts.push(format!("error=\"{e}\""));
        }
        if let Some(d) = &self.description {
            parts.push(format!("error_description=\"{}\"", quote(d)));
        }
        if let Some(s) = &self.scope {
            parts.push(format!("scope=\"{}\"", quote(s)));
        }
        if self.dpop {
            parts.push("algs=\"ES256 RS256 EdDSA\"".to_owned());
            return format!("DPoP {}", parts.join(", "));
        }
        format!("Bearer {}", parts.join(", "))
    }
}

impl TransportError {
    /// The HTTP status of the refusal.
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
            | InvalidParams(_)
            | MissingCapability(_)
            | MissingExtension(_)
            | UnknownTask
            | BadRequestState(_)
            | BadCredentials(_)
            | RepeatedHeader(_)
            | UnexpectedResponse
            | TooLarge { .. }
            | Store(StoreError::TooLarge { .. }) => StatusCode::BAD_REQUEST,
            Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            InsufficientScope(_) => StatusCode::FORBIDDEN,
            RateLimited { .. } | Quota(_) | Overloaded(switchboard_limits::Rejected::OverShare) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AuthUnavailable(_) | LimiterUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ForbiddenOrigin(_) | ForbiddenHost(_) | ForgedForward | ForbiddenServer(_) => {
                StatusCode::FORBIDDEN
            }
            NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnknownSession | MethodNotFound(_) | UnknownServer(_) => StatusCode::NOT_FOUND,
            StreamConflict => StatusCode::CONFLICT,
            StreamCap(_) => StatusCode::TOO_MANY_REQUESTS,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Store(_) | Overloaded(_) | SessionCap(_) | ConnectionCap(_) | Draining
            | OwnerUnreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
            HandlerFailed => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON-RPC error of the refusal (its code, message and data).
    pub fn rpc(&self) -> RpcError {
        use TransportError::*;
        match self {
            Parse(p) => p.to_rpc(),
            TooLarge { bytes, max, .. } => RpcError::invalid_params(self.to_string())
                .with_data(json!({"bytes": bytes, "limit": max})),
            Store(StoreError::TooLarge { bytes, max }) => TooLarge {
                what: "the session's record",
                bytes: *bytes,
                max: *max,
            }
            .rpc(),
            UnknownSession | MissingSession | BadSessionHeader => {
                RpcError::new(ErrorCode::SESSION_ERROR, self.to_string())
            }
            Store(_)
            | Overloaded(_)
            | SessionCap(_)
            | ConnectionCap(_)
            | Draining
            | OwnerUnreachable(_)
            | AuthUnavailable(_)
            | LimiterUnavailable(_) => RpcError::new(ErrorCode::SERVER_BUSY, self.to_string()),
            Unauthenticated(c) | InsufficientScope(c) | BadCredentials(c) => {
                // The challenge again, for clients that only see the body.
                let mut data = json!({
                    "status": self.status().as_u16(),
                    "resourceMetadata": c.resource_metadata,
                });
                if let Some(e) = c.error {
                    data["error"] = json!(e);
                }
                if let Some(scope) = &c.scope {
                    data["scope"] = json!(scope);
                }
                RpcError::new(ErrorCode::UNAUTHORIZED, self.to_string()).with_data(data)
            }
            RateLimited { limit, retry_after } => {
                RpcError::new(ErrorCode::RATE_LIMITED, self.to_string()).with_data(
                    json!({"limit": limit, "retryAfterMs": retry_after.as_millis() as u64}),
                )
            }
            Quota(quota) => RpcError::new(ErrorCode::QUOTA_EXCEEDED, self.to_string())
                .with_data(json!({"quota": quota})),
            UnsupportedModernVersion(requested) => {
                RpcError::new(ErrorCode::UNSUPPORTED_PROTOCOL_VERSION, self.to_string())
                    .with_data(json!({"supported": ALL_SUPPORTED, "requested": requested}))
            }
            HeaderMismatch(_) => RpcError::new(ErrorCode::HEADER_MISMATCH, self.to_string()),
            MissingMeta(_) | BadRequestState(_) | UnknownTask => {
                RpcError::invalid_params(self.to_string())
            }
            InvalidParams(e) => e.clone(),
            MissingExtension(ext) => {
                RpcError::new(ErrorCode::MISSING_CLIENT_CAPABILITY, self.to_string())
                    .with_data(json!({"requiredCapabilities": {"extensions": {*ext: {}}}}))
            }
            MethodNotFound(m) => RpcError::method_not_found(m),
            ForbiddenServer(_) => RpcError::new(ErrorCode::UNAUTHORIZED, self.to_string()),
            HandlerFailed => RpcError::internal(self.to_string()),
            MissingCapability(cap) => {
                RpcError::new(ErrorCode::MISSING_CLIENT_CAPABILITY, self.to_string())
                    .with_data(json!({"requiredCapabilities": {*cap: {}}}))
            }
            _ => RpcError::invalid_request(self.to_string()),
        }
    }
}

/// `Retry-After` of a draining node's refusals.
const DRAINING_RETRY_SECS: u64 = 5;

impl From<Refusal> for TransportError {
    /// What a client whose connection was refused is told.
    fn from(reason: Refusal) -> Self {
        TransportError::ConnectionCap(reason.label())
    }
}

impl IntoResponse for TransportError {
    fn into_response(self) -> Response {
        self.response_for(None)
    }
}

impl TransportError {
    /// How long the client is told to wait before retrying (the
    /// `Retry-After` of 503 and 429).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.retry_after_secs().map(std::time::Duration::from_secs)
    }

    /// Seconds to wait before retrying, for 503 and 429.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            TransportError::RateLimited { retry_after, .. } => {
                Some(retry_after.as_millis().div_ceil(1000).max(1) as u64)
            }
            // A draining node will not take the session back soon.
            TransportError::Draining => Some(DRAINING_RETRY_SECS),
            _ if matches!(
                self.status(),
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
            ) =>
            {
                Some(1)
            }
            _ => None,
        }
    }

    /// The error response, naming the request's id when it is known.
    pub fn response_for(&self, id: Option<&RequestId>) -> Response {
        use TransportError::*;
        let mut resp = json_response(self.status(), error_json(id, &self.rpc()));
        if let Some(secs) = self.retry_after_secs() {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Unauthenticated(c) | BadCredentials(c) | InsufficientScope(c) = self
            && let Ok(v) = HeaderValue::from_str(&c.header())
        {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        if let Unauthenticated(c) = self
            && let Some(n) = c
                .dpop_nonce
                .as_deref()
                .and_then(|n| HeaderValue::from_str(n).ok())
        {
            resp.headers_mut().insert("dpop-nonce", n);
        }
        if matches!(self, TransportError::MethodNotAllowed) {
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
        }
        resp
    }
}
