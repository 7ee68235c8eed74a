//! The JSON-RPC 2.0 envelope, parsed lazily.
//!
//! Only the routing fields are interpreted; `params`, `result` and `error`
//! are kept as raw JSON text so they can be forwarded unchanged.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::value::RawValue;

use crate::error::RpcError;

/// A JSON-RPC request id, kept as its exact JSON text (a string or a number),
/// so it is echoed back byte-for-byte.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// Build from raw JSON text; only strings and numbers are ids.
    pub fn from_raw(raw: &RawValue) -> Result<Self, ParseError> {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"') | Some(b'-') | Some(b'0'..=b'9') => Ok(Self(Arc::from(text))),
            _ => Err(ParseError::BadId),
        }
    }

    /// An id from an integer (used for server-to-client requests).
    pub fn from_u64(n: u64) -> Self {
        Self(Arc::from(n.to_string()))
    }

    /// An id from a string, JSON-encoded.
    pub fn from_string(s: &str) -> Self {
        Self(Arc::from(
            serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()),
        ))
    }

    /// The id as JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// The id as a `serde_json::Value`.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a body could not be read as JSON-RPC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON (serde's message).
    #[error("parse error: {0}")]
    Json(String),
    /// `jsonrpc` is missing or not `"2.0"`.
    #[error("invalid request: \"jsonrpc\" must be \"2.0\"")]
    BadVersion,
    /// `id` is neither a string nor a number.
    #[error("invalid request: \"id\" must be a string or a number")]
    BadId,
    /// Neither a request, a notification nor a response.
    #[error("invalid request: a message needs \"method\", or \"result\"/\"error\" with an \"id\"")]
    NotAMessage,
    /// `method` is not a non-empty string.
    #[error("invalid request: \"method\" must be a non-empty string")]
    BadMethod,
    /// A batch with no message.
    #[error("invalid request: an empty batch")]
    EmptyBatch,
    /// The body is JSON, but neither an object nor an array.
    #[error("invalid request: the body must be a JSON object or array")]
    NotAnObject,
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("parse error: JSON nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Deepest nesting of arrays and objects accepted anywhere in a message,
/// raw parts included (serde_json's own limit for what it parses).
pub const MAX_DEPTH: usize = 128;

/// Reject bodies nested deeper than [`MAX_DEPTH`]; a linear scan that skips
/// strings, so raw `params` forwarded elsewhere are bounded too.
fn check_depth(bytes: &[u8]) -> Result<(), ParseError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ParseError::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

impl ParseError {
    /// The JSON-RPC error this parse failure answers with.
    pub fn to_rpc(&self) -> RpcError {
        match self {
            ParseError::Json(_) | ParseError::TooDeep => {
                RpcError::new(crate::ErrorCode::PARSE_ERROR, self.to_string())
            }
            _ => RpcError::invalid_request(self.to_string()),
        }
    }
}

/// One JSON-RPC message with its routing fields read.
#[derive(Debug, Clone)]
pub enum Message {
    /// A request: it is owed a response.
    Request {
        /// Its id, echoed by the response.
        id: RequestId,
        /// The method called.
        method: String,
        /// Its params, as sent (absent: `None`).
        params: Option<Box<RawValue>>,
    },
    /// A notification: no response.
    Notification {
        /// The method.
        method: String,
        /// Its params, as sent (absent: `None`).
        params: Option<Box<RawValue>>,
    },
    /// A response to a request of ours.
    Response {
        /// The id of the request it answers.
        id: RequestId,
        /// Either `{"result": …}`'s value (Ok) or `{"error": …}`'s object (Err).
        outcome: Result<Box<RawValue>, Box<RawValue>>,
    },
}

impl Message {
    /// The method of a request or notification; `None` for a response.
    pub fn method(&self) -> Option<&str> {
        match self {
            Message::Request { method, .. } | Message::Notification { method, .. } => Some(method),
            Message::Response { .. } => None,
        }
    }

    /// Whether it is a request (owed a response).
    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request { .. })
    }
}

/// A whole POST body: one message or a batch.
#[derive(Debug)]
pub enum Incoming {
    /// One message.
    Single(Message),
    /// Each element parsed on its own: a bad element is answered alone.
    Batch(Vec<Result<Message, ParseError>>),
}

/// A field that distinguishes "absent" (None) from "present, even null"
/// (Some), borrowed from the body: the routing fields are read in place and
/// only what a [`Message`] keeps is copied out of it.
#[derive(Default)]
struct Present<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Present<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(d).map(|v| Present(Some(v)))
    }
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(default, borrow)]
    jsonrpc: Present<'a>,
    #[serde(default, borrow)]
    id: Present<'a>,
    #[serde(default, borrow)]
    method: Present<'a>,
    #[serde(default, borrow)]
    params: Present<'a>,
    #[serde(default, borrow)]
    result: Present<'a>,
    #[serde(default, borrow)]
    error: Present<'a>,
}

/// Parse a body that holds one message or a batch.
pub fn parse_body(body: &[u8]) -> Result<Incoming, ParseError> {
    check_depth(body)?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'[') => {
            let items: Vec<Box<RawValue>> =
                serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
            if items.is_empty() {
                return Err(ParseError::EmptyBatch);
            }
            Ok(Incoming::Batch(
                items
                    .iter()
                    .map(|raw| parse_message(raw.get().as_bytes()))
                    .collect(),
            ))
        }
        Some(b'{') => parse_message(body).map(Incoming::Single),
        Some(_) => {
            // Valid JSON that is not an object or array is an invalid request;
            // anything else is a parse error.
            serde_json::from_slice::<de::IgnoredAny>(body)
                .map_err(|e| ParseError::Json(e.to_string()))?;
            Err(ParseError::NotAnObject)
        }
        None => Err(ParseError::Json("empty body".into())),
    }
}

/// Parse one JSON-RPC message.
pub fn parse_message(bytes: &[u8]) -> Result<Message, ParseError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first != Some(b'{') {
        serde_json::from_slice::<de::IgnoredAny>(bytes)
            .map_err(|e| ParseError::Json(e.to_string()))?;
        return Err(ParseError::NotAnObject);
    }
    let env: RawEnvelope<'_> =
        serde_json::from_slice(bytes).map_err(|e| ParseError::Json(e.to_string()))?;
    match env.jsonrpc.0.map(RawValue::get) {
        Some("\"2.0\"") => {}
        _ => return Err(ParseError::BadVersion),
    }
    let id = match env.id.0 {
        None => None,
        Some(raw) => Some(RequestId::from_raw(raw)?),
    };
    if let Some(method) = env.method.0 {
        let method = method_text(method).ok_or(ParseError::BadMethod)?;
        if method.is_empty() {
            return Err(ParseError::BadMethod);
        }
        let params = env.params.0.map(ToOwned::to_owned);
        return Ok(match id {
            Some(id) => Message::Request { id, method, params },
            None => Message::Notification { method, params },
        });
    }
    let id = id.ok_or(ParseError::NotAMessage)?;
    let outcome = match (env.result.0, env.error.0) {
        (Some(r), None) => Ok(r.to_owned()),
        (None, Some(e)) => Err(e.to_owned()),
        _ => return Err(ParseError::NotAMessage),
    };
    Ok(Message::Response { id, outcome })
}

/// A method's name from its raw JSON: the text between the quotes when it
/// holds no escape (the body parsed, so that text is the string itself),
/// decoded by serde_json otherwise; `None` when it is not a string.
fn method_text(raw: &RawValue) -> Option<String> {
    let text = raw.get();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => Some(inner.to_owned()),
        _ => serde_json::from_str(text).ok(),
    }
}

/// Whether the JSON text `json` may hold the object key `key`: a cheap test
/// before parsing it to look. False only when it cannot: the key's text is
/// absent and there is no escape that could spell it another way (a `\u`
/// escape, or a short one such as `\n` when the key has such a character).
pub fn may_hold_key(json: &str, key: &str) -> bool {
    let short = |c: char| matches!(c, '"' | '\\' | '/' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t');
    json.contains(key) || json.contains("\\u") || (key.contains(short) && json.contains('\\'))
}

/// Serialize a success response around a result value, written by
/// serde_json straight into the response's buffer (a value's `Display`
/// goes through `fmt` a piece at a time, and then the text is copied).
pub fn result_json(id: &RequestId, result: &serde_json::Value) -> String {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    out.extend_from_slice(id.as_json().as_bytes());
    out.extend_from_slice(br#","result":"#);
    // Neither can fail (a value's keys are strings, its numbers finite;
    // serde_json writes UTF-8); were it otherwise, the slow way.
    let written = serde_json::to_writer(&mut out, result).is_ok();
    out.push(b'}');
    match String::from_utf8(out) {
        Ok(json) if written => json,
        _ => response_json(id, &result.to_string()),
    }
}

/// Serialize a success response around a raw result.
pub fn response_json(id: &RequestId, result: &str) -> String {
    let mut out = String::with_capacity(result.len() + id.as_json().len() + 32);
    out.push_str(r#"{"jsonrpc":"2.0","id":"#);
    out.push_str(id.as_json());
    out.push_str(r#","result":"#);
    out.push_str(result);
    out.push('}');
    out
}

/// Serialize an error response; `id` is `null` when the request's id is unknown.
pub fn error_json(id: Option<&RequestId>, error: &RpcError) -> String {
    let id = id.map(RequestId::as_json).unwrap_or("null");
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"error":{}}}"#,
        error.to_json()
    )
}

/// Serialize a notification. `params` `null` means the notification has
/// none: the member is left out (JSON-RPC allows only an object or an
/// array there).
pub fn notification_json(method: &str, params: &serde_json::Value) -> String {
    let mut out = String::with_capacity(64);
    out.push_str(r#"{"jsonrpc":"2.0","method":"#);
    out.push_str(&serde_json::Value::from(method).to_string());
    push_params(&mut out, params);
    out.push('}');
    out
}

/// Serialize a request. `params` `null` means the request has none: the
/// member is left out, as in [`notification_json`].
pub fn request_json(id: &RequestId, method: &str, params: &serde_json::Value) -> String {
    let mut out = String::with_capacity(64);
    out.push_str(r#"{"jsonrpc":"2.0","id":"#);
    out.push_str(id.as_json());
    out.push_str(r#","method":"#);
    out.push_str(&serde_json::Value::from(method).to_string());
    push_params(&mut out, params);
    out.push('}');
    out
}

/// A request as an entry of a 2026-07-28 `inputRequests` map (or a task's
/// input requests): `method`, and `params` unless `null` (none), as in
/// [`request_json`].
pub fn input_request(method: &str, params: serde_json::Value) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert("method".into(), method.into());
    if !params.is_null() {
        map.insert("params".into(), params);
    }
    serde_json::Value::Object(map)
}

/// `,"params":…` unless `params` is `null`.
fn push_params(out: &mut String, params: &serde_json::Value) {
    if !params.is_null() {
        out.push_str(r#","params":"#);
        out.push_str(&params.to_string());
    }
}

#[cfg(test)]
mod tests;
