//! Raw JSON helpers: lines built around raw params, and the one rewrite we
//! do (`progressToken`) without touching any other field.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_proto::{ErrorCode, RpcError};

/// A JSON object whose members stay raw, in their original order.
#[derive(Debug)]
pub(crate) struct RawObject(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(member);
                }
                Ok(RawObject(members))
            }
        }
        d.deserialize_map(V)
    }
}

impl RawObject {
    /// Parse raw JSON as an object; `None` if it is anything else.
    pub(crate) fn parse(raw: &RawValue) -> Option<Self> {
        serde_json::from_str(raw.get()).ok()
    }

    /// The first member called `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }

    /// Replace every member called `key` (they are all read as one).
    pub(crate) fn set(&mut self, key: &str, value: &RawValue) {
        for (k, v) in &mut self.0 {
            if k == key {
                *v = value.to_owned();
            }
        }
    }

    /// Back to JSON text, unchanged members byte for byte.
    pub(crate) fn to_raw(&self) -> Box<RawValue> {
        let mut out = String::from("{");
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&json_string(k));
            out.push(':');
            out.push_str(v.get());
        }
        out.push('}');
        RawValue::from_string(out).unwrap_or_else(|_| empty_object())
    }
}

/// `{}` as raw JSON.
pub(crate) fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("{} is JSON")
}

/// A string as JSON text.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// A string as raw JSON.
pub(crate) fn raw_string(s: &str) -> Box<RawValue> {
    RawValue::from_string(json_string(s)).expect("a JSON string is JSON")
}

/// Replace `_meta.progressToken` in request params with the token `ours`
/// makes (called only when there is one to replace: most params carry
/// none); returns the new params, the original token and ours, or `None`
/// if there is none.
pub(crate) fn replace_progress_token(
    params: &RawValue,
    ours: impl FnOnce() -> String,
) -> Option<(Box<RawValue>, Box<RawValue>, String)> {
    let text = params.get();
    if !switchboard_proto::may_hold_key(text, "_meta") {
        return None;
    }
    let mut outer = RawObject::parse(params)?;
    let mut meta = RawObject::parse(outer.get("_meta")?)?;
    let original = meta.get("progressToken")?.to_owned();
    let token = ours();
    meta.set("progressToken", &raw_string(&token));
    outer.set("_meta", &meta.to_raw());
    Some((outer.to_raw(), original, token))
}

/// The `progressToken` of progress params, if it is a string (ours are).
pub(crate) fn progress_token(params: &RawObject) -> Option<String> {
    serde_json::from_str(params.get("progressToken")?.get()).ok()
}

/// The `requestId` of `notifications/cancelled` params, as exact JSON text.
pub(crate) fn cancelled_request_id(params: Option<&RawValue>) -> Option<String> {
    let obj = RawObject::parse(params?)?;
    Some(obj.get("requestId")?.get().to_owned())
}

/// A request line with raw params.
pub(crate) fn request_line(id: u64, method: &str, params: Option<&RawValue>) -> String {
    let mut line = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":{}"#,
        json_string(method)
    );
    push_params(&mut line, params);
    line
}

/// A notification line with raw params.
pub(crate) fn notification_line(method: &str, params: Option<&RawValue>) -> String {
    let mut line = format!(r#"{{"jsonrpc":"2.0","method":{}"#, json_string(method));
    push_params(&mut line, params);
    line
}

fn push_params(line: &mut String, params: Option<&RawValue>) {
    if let Some(params) = params {
        line.push_str(r#","params":"#);
        line.push_str(params.get());
    }
    line.push('}');
}

#[derive(Deserialize)]
struct WireError {
    code: i32,
    message: String,
    #[serde(default)]
    data: Option<Value>,
}

/// An upstream's `error` object as an [`RpcError`].
pub(crate) fn rpc_error(raw: &RawValue) -> RpcError {
    match serde_json::from_str::<WireError>(raw.get()) {
        Ok(e) => RpcError {
            code: ErrorCode(e.code),
            message: e.message,
            data: e.data,
        },
        Err(_) => RpcError::internal(format!(
            "upstream sent a malformed error: {}",
            truncate(raw.get(), 200)
        )),
    }
}

/// `s` cut to at most `max` bytes (on a char boundary), marked when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// JSON params built from values (for `initialize`).
pub(crate) fn to_raw<T: Serialize>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| empty_object())
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
