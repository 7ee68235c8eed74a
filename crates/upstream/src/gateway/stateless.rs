//! A stateless (2026-07-28) client's request passed to an upstream that
//! speaks 2026-07-28 too: sent as it came, with the client's own `_meta`
//! (version, capabilities, log level, progress token), so the upstream
//! decides as it would for the client directly. An `input_required` result
//! from the upstream is answered through the client — under the
//! upstream's own input keys, so the client sees them unchanged — and the
//! request is sent again with the answers and the upstream's state.

use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use switchboard_proto::RpcError;
use switchboard_proto::version::MODERN;

use super::connection::Connection;
use super::relay::Call;
use crate::UpstreamError;

/// Rounds of `input_required` one request may take.
const MAX_ROUNDS: usize = 8;

/// The `_meta` of a request Switchboard makes itself, or makes for a
/// session client with its `capabilities`.
pub(crate) fn meta(capabilities: &Value) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        CLIENT_INFO: super::pool::client_info(),
    })
}

/// Where a request's `_meta` names the client (SEP-2575).
const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";

/// A stateless client's request, passed on as it came: its `_meta` names
/// the client, Switchboard if the client did not name itself (every
/// request should, SEP-2575).
pub(crate) fn name_client(params: &mut Value) {
    let Some(map) = params.as_object_mut() else {
        return;
    };
    let meta = map.entry("_meta").or_insert_with(|| json!({}));
    if let Some(meta) = meta.as_object_mut()
        && !meta.contains_key(CLIENT_INFO)
    {
        meta.insert(CLIENT_INFO.into(), super::pool::client_info());
    }
}

/// `params` of a session client's request as a stateless one: its own
/// `_meta` (a progress token) kept, the version and the session's
/// capabilities added, and every log line asked for (the session's level
/// filters them on the way out).
pub(crate) fn as_stateless(params: &mut Value, capabilities: &Value) {
    let Some(map) = params.as_object_mut() else {
        return;
    };
    let meta = map.entry("_meta").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    if let (Some(meta), Value::Object(add)) = (meta.as_object_mut(), self::meta(capabilities)) {
        meta.extend(add);
        meta.insert("io.modelcontextprotocol/logLevel".into(), json!("debug"));
    }
}

/// Whether the upstream behind `conn` serves 2026-07-28 requests: its
/// `server/discover` answer lists the version. An error answer (or an HTTP
/// refusal) is a no; `Err` when no answer came at all (the connection
/// failed or timed out), so the question stays open.
pub(crate) async fn speaks_modern(
    conn: &Connection,
    timeout: Duration,
) -> Result<bool, UpstreamError> {
    let params = json!({"_meta": meta(&json!({}))});
    let raw = match conn
        .request_stateless("server/discover", &params, None, timeout)
        .await
    {
        Ok(raw) => raw,
        Err(UpstreamError::Rpc(_) | UpstreamError::Http(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let v: Value = serde_json::from_str(raw.get()).unwrap_or_default();
    Ok(v["supportedVersions"]
        .as_array()
        .is_some_and(|a| a.iter().any(|s| s == MODERN)))
}

/// Send `params` (the client's, its `inputResponses` and `requestState`
/// already taken out) until the upstream completes, each of its input
/// requests asked of the client through `call`.
pub(crate) async fn exchange(
    conn: &Connection,
    call: &Call,
    method: &str,
    mut params: Value,
    schema: Option<&Value>,
    timeout: Duration,
) -> Result<Box<RawValue>, UpstreamError> {
    for _ in 0..MAX_ROUNDS {
        let raw = conn
            .request_stateless(method, &params, schema, timeout)
            .await?;
        let Some((requests, state)) = input_required(&raw) else {
            return Ok(raw);
        };
        let mut answers = Map::new();
        let mut failed = None;
        // Every request is asked, so a stateless client learns all the
        // round's keys at once.
        for (key, request) in requests {
            let method = request["method"].as_str().unwrap_or_default();
            // No params stays no params: `null` is "none" to every peer.
            let asked = request.get("params").cloned().unwrap_or(Value::Null);
            match call.ask(&key, method, asked).await {
                Ok(answer) => {
                    let answer = serde_json::from_str(answer.get()).unwrap_or(Value::Null);
                    answers.insert(key, answer);
                }
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failed {
            return Err(UpstreamError::Rpc(e));
        }
        let Some(map) = params.as_object_mut() else {
            break;
        };
        map.insert("inputResponses".into(), Value::Object(answers));
        match state {
            Some(state) => map.insert("requestState".into(), state),
            None => map.remove("requestState"),
        };
    }
    Err(UpstreamError::Rpc(RpcError::internal(format!(
        "the upstream asked for input more than {MAX_ROUNDS} times"
    ))))
}

/// The input requests and state of an `input_required` result.
fn input_required(raw: &RawValue) -> Option<(Map<String, Value>, Option<Value>)> {
    if !raw.get().contains("input_required") {
        return None;
    }
    let mut v: Value = serde_json::from_str(raw.get()).ok()?;
    if v["resultType"] != "input_required" {
        return None;
    }
    let requests = match v.get_mut("inputRequests").map(Value::take) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let state = v.get_mut("requestState").map(Value::take);
    Some((requests, state))
}
