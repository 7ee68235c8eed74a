//! The per-request `_meta` of a stateless request, and the MRTR fields of
//! a retried one.

use serde_json::{Map, Value};
use switchboard_runtime::LogLevel;

/// The `_meta` key of the protocol version.
pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// The `_meta` key of the client's capabilities.
pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// The `_meta` key of the log level the client wants.
pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// The `_meta` key of the server's identity in a result.
pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// The `_meta` key naming a `subscriptions/listen` stream.
pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// What a stateless request says about its client.
#[derive(Debug)]
pub struct Meta {
    /// The protocol version the request speaks.
    pub version: String,
    /// The client's capabilities.
    pub capabilities: Value,
    /// The least severe log level the client wants, if any.
    pub log_level: Option<LogLevel>,
    /// The progress token, if the client asked for progress.
    pub progress_token: Option<Value>,
    /// Answers to the input requests of the previous round, by key.
    pub input_responses: Option<Map<String, Value>>,
    /// The sealed state of the previous round.
    pub request_state: Option<String>,
    /// Set by the dispatcher, not read from the request: the tool may turn
    /// this call into a task (the client accepts tasks).
    pub may_become_task: bool,
}

/// Read `_meta` and the retry fields; the error says what is missing.
pub fn parse(params: &Value) -> Result<Meta, String> {
    let meta = params
        .get("_meta")
        .and_then(Value::as_object)
        .ok_or("params._meta is required for protocol version 2026-07-28")?;
    let version = meta
        .get(PROTOCOL_VERSION)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("_meta[\"{PROTOCOL_VERSION}\"] is required"))?
        .to_owned();
    let capabilities = meta
        .get(CLIENT_CAPABILITIES)
        .filter(|c| c.is_object())
        .cloned()
        .ok_or_else(|| format!("_meta[\"{CLIENT_CAPABILITIES}\"] is required (an object)"))?;
    let log_level = match meta.get(LOG_LEVEL) {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .and_then(LogLevel::parse)
                .ok_or_else(|| format!("_meta[\"{LOG_LEVEL}\"] is not a log level"))?,
        ),
    };
    let progress_token = meta
        .get("progressToken")
        .filter(|t| t.is_string() || t.is_number())
        .cloned();
    let input_responses = match params.get("inputResponses") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err("inputResponses must be an object".into()),
    };
    let request_state = match params.get("requestState") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("requestState must be a string".into()),
    };
    Ok(Meta {
        version,
        capabilities,
        log_level,
        progress_token,
        input_responses,
        request_state,
        may_become_task: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn required_fields() {
        let ok = json!({"_meta": {PROTOCOL_VERSION: "2026-07-28", CLIENT_CAPABILITIES: {}, LOG_LEVEL: "info", "progressToken": 3}});
        let m = parse(&ok).unwrap();
        assert_eq!(m.version, "2026-07-28");
        assert_eq!(m.log_level, Some(LogLevel::Info));
        assert_eq!(m.progress_token, Some(json!(3)));
        assert!(parse(&json!({})).unwrap_err().contains("_meta"));
        assert!(
            parse(&json!({"_meta": {CLIENT_CAPABILITIES: {}}}))
                .unwrap_err()
                .contains("protocolVersion")
        );
        assert!(
            parse(&json!({"_meta": {PROTOCOL_VERSION: "2026-07-28"}}))
                .unwrap_err()
                .contains("clientCapabilities")
        );
        assert!(parse(&json!({"_meta": {PROTOCOL_VERSION: "2026-07-28", CLIENT_CAPABILITIES: {}}, "inputResponses": 3})).is_err());
    }
}
