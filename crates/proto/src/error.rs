//! JSON-RPC error objects and the error codes MCP uses.

use serde::Serialize;
use serde_json::Value;

/// A JSON-RPC error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ErrorCode(pub i32);

impl ErrorCode {
    /// The message is not valid JSON.
    pub const PARSE_ERROR: Self = Self(-32700);
    /// The message is not a valid JSON-RPC request.
    pub const INVALID_REQUEST: Self = Self(-32600);
    /// The method does not exist or is not served.
    pub const METHOD_NOT_FOUND: Self = Self(-32601);
    /// The params do not fit the method.
    pub const INVALID_PARAMS: Self = Self(-32602);
    /// The server failed for its own reasons.
    pub const INTERNAL_ERROR: Self = Self(-32603);
    /// Server overloaded or not ready (implementation-defined server error range).
    pub const SERVER_BUSY: Self = Self(-32000);
    /// The session id is missing, unknown or ended.
    pub const SESSION_ERROR: Self = Self(-32001);
    /// Legacy code for an unknown resource (before 2026-07-28).
    pub const RESOURCE_NOT_FOUND: Self = Self(-32002);
    /// The request timed out on the server.
    pub const REQUEST_TIMEOUT: Self = Self(-32003);
    /// The caller is not authenticated (HTTP 401) or lacks a scope (403).
    pub const UNAUTHORIZED: Self = Self(-32004);
    /// A quota of the caller's tenant is used up (HTTP 429).
    pub const QUOTA_EXCEEDED: Self = Self(-32005);
    /// A policy refused the request by its arguments or its caller;
    /// `data.policy` names the rule.
    pub const POLICY_DENIED: Self = Self(-32006);
    /// A rate limit was hit (HTTP 429); `data.limit` says which.
    pub const RATE_LIMITED: Self = Self(-32029);
    /// The request was cancelled.
    pub const REQUEST_CANCELLED: Self = Self(-32800);
    /// 2026-07-28: a mirrored header is missing or does not match the body.
    pub const HEADER_MISMATCH: Self = Self(-32020);
    /// 2026-07-28: the request needs a client capability it did not declare.
    pub const MISSING_CLIENT_CAPABILITY: Self = Self(-32021);
    /// 2026-07-28: the protocol version is not supported.
    pub const UNSUPPORTED_PROTOCOL_VERSION: Self = Self(-32022);
    /// The request needs the user to complete URL-mode elicitations first
    /// (`URLElicitationRequiredError`, 2025-11-25); `data.elicitations`
    /// lists them.
    pub const URL_ELICITATION_REQUIRED: Self = Self(-32042);
}

/// A JSON-RPC error object: `{"code", "message", "data"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{message} ({})", code.0)]
pub struct RpcError {
    /// What kind of error.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
    /// Details for a program, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error of `code` saying `message`, without data.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The same error with `data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// A -32602 error: the params do not fit the method.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_PARAMS, message)
    }

    /// A -32600 error: not a valid request.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_REQUEST, message)
    }

    /// A -32601 error naming the method.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("method not found: {method}"),
        )
    }

    /// A -32603 error: the server failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INTERNAL_ERROR, message)
    }

    /// Serialize as a JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"code":-32603,"message":"unserializable error"}"#.to_owned())
    }
}
