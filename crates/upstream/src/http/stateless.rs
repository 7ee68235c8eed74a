//! 2026-07-28 requests to an HTTP upstream: no session, the version and
//! what the body says mirrored in headers (`MCP-Protocol-Version`,
//! `Mcp-Method`, `Mcp-Name`, and `Mcp-Param-*` for the tool arguments its
//! input schema marks with `x-mcp-header`), so the server can route and
//! check the request without reading the body.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use switchboard_proto::methods;
use switchboard_proto::version::MODERN;

use super::exchange::VERSION;

/// The headers of a stateless `method` request with these `params`; `schema`
/// is the called tool's input schema, if it is a tool call.
pub(crate) fn headers(method: &str, params: &Value, schema: Option<&Value>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(VERSION, HeaderValue::from_static(MODERN));
    put(&mut h, "mcp-method", method);
    let name = match method {
        methods::TOOLS_CALL | methods::PROMPTS_GET => params.get("name"),
        methods::RESOURCES_READ => params.get("uri"),
        _ => None,
    };
    if let Some(name) = name.and_then(text) {
        put(&mut h, "mcp-name", &name);
    }
    if let Some(props) = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    {
        let arguments = params.get("arguments");
        for (prop, spec) in props {
            let Some(header) = spec.get("x-mcp-header").and_then(Value::as_str) else {
                continue;
            };
            let value = arguments.and_then(|a| a.get(prop)).and_then(text);
            if let Some(value) = value {
                put(
                    &mut h,
                    &format!("mcp-param-{}", header.to_ascii_lowercase()),
                    &value,
                );
            }
        }
    }
    h
}

/// A body value as header text: strings, numbers and booleans.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Insert a header, base64-wrapped (`=?base64?…?=`) when the text is not
/// plain visible ASCII or has surrounding spaces.
fn put(h: &mut HeaderMap, name: &str, value: &str) {
    let plain = value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && value.trim() == value
        && !value.starts_with("=?base64?");
    let text = if plain {
        value.to_owned()
    } else {
        format!("=?base64?{}?=", STANDARD.encode(value))
    };
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(&text),
    ) {
        h.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mirrors_the_body() {
        let schema = json!({"properties": {"region": {"type": "string", "x-mcp-header": "Region"}, "n": {"x-mcp-header": "Count"}, "plain": {}}});
        let p = json!({"name": "echo", "arguments": {"region": "été", "n": 3, "plain": "x"}});
        let h = headers("tools/call", &p, Some(&schema));
        assert_eq!(h["mcp-protocol-version"], MODERN);
        assert_eq!(h["mcp-method"], "tools/call");
        assert_eq!(h["mcp-name"], "echo");
        assert_eq!(h["mcp-param-count"], "3");
        let region = h["mcp-param-region"].to_str().unwrap();
        assert_eq!(region, format!("=?base64?{}?=", STANDARD.encode("été")));
        assert_eq!(h.len(), 5, "no header for a property without x-mcp-header");
        let h = headers("resources/read", &json!({"uri": "test://a b"}), None);
        assert_eq!(h["mcp-name"], "test://a b");
        assert!(
            headers("tools/list", &json!({}), None)
                .get("mcp-name")
                .is_none()
        );
    }
}
