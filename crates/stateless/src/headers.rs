//! The mirrored headers of a stateless request (`MCP-Protocol-Version`,
//! `Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`) checked against its body.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_proto::methods;
use switchboard_proto::params::TaskRef;

use crate::names;

/// The decoded value of a header: `=?base64?…?=` values are decoded; other
/// values must be visible ASCII or spaces.
pub fn decode(raw: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "header value is not valid text".to_owned())?;
    let text = text.trim_matches(|c| c == ' ' || c == '\t');
    if let Some(inner) = text
        .strip_prefix("=?base64?")
        .and_then(|t| t.strip_suffix("?="))
    {
        // Strict: standard alphabet, canonical padding and trailing bits.
        let bytes = STANDARD
            .decode(inner)
            .ok()
            .filter(|b| STANDARD.encode(b) == inner)
            .ok_or_else(|| "malformed base64 header value".to_owned())?;
        return String::from_utf8(bytes).map_err(|_| "base64 header value is not UTF-8".to_owned());
    }
    if text.bytes().any(|b| !(0x20..=0x7e).contains(&b)) {
        return Err("header value has invalid characters".to_owned());
    }
    Ok(text.to_owned())
}

fn header(headers: &HeaderMap, name: &str) -> Result<Option<String>, String> {
    if headers.get_all(name).iter().nth(1).is_some() {
        return Err(format!("{name} header appears more than once"));
    }
    match headers.get(name) {
        None => Ok(None),
        Some(v) => decode(v.as_bytes())
            .map(Some)
            .map_err(|e| format!("{name}: {e}")),
    }
}

/// The method a request's `Mcp-Method` header names, read before its body
/// (`None` if absent or unreadable; [`check`] refuses those later).
pub fn method(headers: &HeaderMap) -> Option<String> {
    header(headers, "mcp-method").ok().flatten()
}

/// The body value a `Mcp-Name` header mirrors for `method`, read by the
/// method's own reader; `None` for params it refuses (refused later).
fn name_of<'a>(method: &str, params: Option<&'a RawValue>) -> Option<Cow<'a, str>> {
    match method {
        methods::TOOLS_CALL | methods::PROMPTS_GET | methods::RESOURCES_READ => {
            switchboard_proto::params::named(method, params).ok()?
        }
        names::GET | names::UPDATE | names::CANCEL => {
            Some(TaskRef::read(method, params).ok()?.task_id)
        }
        _ => None,
    }
}

/// Whether a header's text equals a body value: strings exactly, numbers
/// numerically, booleans by their JSON spelling.
pub fn same(header: &str, body: &Value) -> bool {
    match body {
        Value::String(s) => header == s,
        Value::Number(n) => match (header.parse::<f64>(), n.as_f64()) {
            (Ok(h), Some(b)) => h == b,
            _ => false,
        },
        Value::Bool(b) => header == if *b { "true" } else { "false" },
        _ => false,
    }
}

/// Check `Mcp-Method` and `Mcp-Name` against the body.
pub fn check(headers: &HeaderMap, method: &str, params: Option<&RawValue>) -> Result<(), String> {
    match header(headers, "mcp-method")? {
        None => return Err("Mcp-Method header is required".into()),
        Some(h) if h != method => {
            return Err(format!(
                "Mcp-Method {h:?} does not match the body's method {method:?}"
            ));
        }
        Some(_) => {}
    }
    if let Some(body) = name_of(method, params) {
        match header(headers, "mcp-name")? {
            None => return Err("Mcp-Name header is required for this method".into()),
            Some(h) if h != body => {
                return Err(format!("Mcp-Name {h:?} does not match the body ({body:?})"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Check the `Mcp-Param-{Name}` headers a tool declares (properties of its
/// input schema with `x-mcp-header`) against the call's arguments.
pub fn check_params(
    headers: &HeaderMap,
    input_schema: &Value,
    arguments: &Value,
) -> Result<(), String> {
    let Some(props) = input_schema.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    for (prop, schema) in props {
        let Some(name) = schema.get("x-mcp-header").and_then(Value::as_str) else {
            continue;
        };
        let header_name = format!("mcp-param-{}", name.to_ascii_lowercase());
        let value = header(headers, &header_name)?;
        let body = arguments.get(prop).filter(|v| !v.is_null());
        match (body, value) {
            (None, None) => {}
            (Some(body), Some(h)) if same(&h, body) => {}
            (Some(body), Some(h)) => {
                return Err(format!(
                    "Mcp-Param-{name} {h:?} does not match argument {prop:?} ({body})"
                ));
            }
            (Some(_), None) => {
                return Err(format!(
                    "Mcp-Param-{name} header is required (argument {prop:?} is set)"
                ));
            }
            (None, Some(h)) => {
                return Err(format!(
                    "Mcp-Param-{name} {h:?} is set but argument {prop:?} is absent"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde_json::json;

    fn raw(v: Value) -> Box<serde_json::value::RawValue> {
        serde_json::value::to_raw_value(&v).unwrap()
    }

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn method_and_name() {
        let p = raw(json!({"name": "echo"}));
        let p = Some(&*p);
        assert!(
            check(
                &h(&[("mcp-method", "tools/call"), ("mcp-name", "echo")]),
                "tools/call",
                p
            )
            .is_ok()
        );
        assert!(check(&h(&[("mcp-method", "tools/call")]), "tools/call", p).is_err());
        assert!(check(&h(&[("mcp-method", "tools/list")]), "tools/call", p).is_err());
        assert!(
            check(
                &h(&[("mcp-method", "Tools/Call"), ("mcp-name", "echo")]),
                "tools/call",
                p
            )
            .is_err(),
            "values are case-sensitive"
        );
        assert!(check(&h(&[]), "tools/list", Some(&*raw(json!({})))).is_err());
        assert!(
            check(
                &h(&[("mcp-method", "tools/list")]),
                "tools/list",
                Some(&*raw(json!({})))
            )
            .is_ok()
        );
        // The name as the method's reader reads it: escapes decoded; a
        // repeated key or a non-object names nothing here (refused later).
        let escaped =
            serde_json::value::RawValue::from_string(r#"{"name":"ech\u006f"}"#.to_owned()).unwrap();
        let echo = h(&[("mcp-method", "tools/call"), ("mcp-name", "echo")]);
        assert!(check(&echo, "tools/call", Some(&escaped)).is_ok());
        for text in [r#"{"name":"echo","name":"add"}"#, r#"["echo"]"#] {
            let p = serde_json::value::RawValue::from_string(text.to_owned()).unwrap();
            assert_eq!(name_of("tools/call", Some(&p)), None, "{text}");
        }
        let r = raw(json!({"uri": "test://é"}));
        let r = Some(&*r);
        let b64 = format!("=?base64?{}?=", STANDARD.encode("test://é"));
        assert!(
            check(
                &h(&[("mcp-method", "resources/read"), ("mcp-name", &b64)]),
                "resources/read",
                r
            )
            .is_ok()
        );
    }

    #[test]
    fn params_numbers_and_presence() {
        let schema = json!({"properties": {"region": {"type": "string", "x-mcp-header": "Region"}, "n": {"type": "number", "x-mcp-header": "Count"}}});
        let ok = h(&[("mcp-param-region", "eu"), ("mcp-param-count", "42")]);
        assert!(check_params(&ok, &schema, &json!({"region": "eu", "n": 42.0})).is_ok());
        assert!(check_params(&ok, &schema, &json!({"region": "us", "n": 42})).is_err());
        assert!(
            check_params(
                &h(&[("mcp-param-region", "eu")]),
                &schema,
                &json!({"region": "eu", "n": 1})
            )
            .is_err()
        );
        assert!(check_params(&h(&[]), &schema, &json!({})).is_ok());
        assert!(check_params(&h(&[("mcp-param-count", "1")]), &schema, &json!({})).is_err());
    }

    #[test]
    fn decoding() {
        assert_eq!(decode(b"  plain ").unwrap(), "plain");
        assert_eq!(decode(b"=?base64?aMOp?=").unwrap(), "h\u{e9}");
        assert!(decode(b"=?base64?!!?=").is_err());
        assert!(decode(b"=?base64?SGVsbG8?=").is_err(), "missing padding");
        assert!(decode(b"=?base64?SGVs!!!bG8=?=").is_err());
        assert_eq!(decode(b"=?base64?SGVsbG8=?=").unwrap(), "Hello");
        assert_eq!(
            decode(b"=?base64?SGVsbG8=").unwrap(),
            "=?base64?SGVsbG8=",
            "no suffix: literal"
        );
        assert!(decode(b"a\x01b").is_err());
    }
}
