//! Property tests of the mirrored headers' values: any bytes are decoded or
//! refused without a panic; any value encoded as a client must encode it
//! (plain visible ASCII, else the base64 sentinel) decodes back to itself;
//! the base64 form has one spelling (standard alphabet, canonical padding
//! and trailing bits); and `Mcp-Method`/`Mcp-Name` built from a body always
//! match it.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::proptest_cases::cases;

/// A value as a client encodes it for a header.
fn encode(value: &str) -> String {
    let plain = value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && value.trim_matches([' ', '\t']) == value
        && !(value.starts_with("=?base64?") && value.ends_with("?="));
    if plain {
        value.to_owned()
    } else {
        format!("=?base64?{}?=", STANDARD.encode(value))
    }
}

/// Strings rich in what makes a header value special.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,16}",
        "\\PC{0,12}",
        "[ \t]{0,2}=\\?base64\\?[A-Za-z0-9+/=]{0,8}\\?=[ \t]{0,2}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(cases(4000))]

    /// Any bytes: a value or why not, never a panic.
    #[test]
    fn any_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode(&raw);
    }

    /// What a client encodes decodes back to the value, with or without
    /// whitespace around.
    #[test]
    fn encoded_values_decode_back(v in value(), pad in "[ \t]{0,2}") {
        let encoded = encode(&v);
        prop_assert_eq!(decode(encoded.as_bytes()), Ok(v.clone()));
        prop_assert_eq!(decode(format!("{pad}{encoded}{pad}").as_bytes()), Ok(v));
    }

    /// The base64 form is accepted in one spelling only: another alphabet,
    /// missing or extra padding, or other trailing bits are refused.
    #[test]
    fn base64_has_one_spelling(text in "\\PC{0,12}", how in 0..5u8, at in any::<prop::sample::Index>()) {
        let bytes = text.into_bytes();
        let canonical = STANDARD.encode(&bytes);
        let other = match how {
            0 => URL_SAFE.encode(&bytes),
            1 => STANDARD_NO_PAD.encode(&bytes),
            2 => format!("{canonical}="),
            3 => {
                // Flip the lowest bit of the last significant character.
                let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                let mut chars: Vec<u8> = canonical.trim_end_matches('=').bytes().collect();
                if let Some(last) = chars.last_mut() {
                    let i = alphabet.iter().position(|c| c == last).unwrap_or(0);
                    *last = alphabet[i ^ 1];
                }
                let pad = canonical.len() - chars.len();
                String::from_utf8(chars).unwrap_or_default() + &"=".repeat(pad)
            }
            _ => {
                let mut s = canonical.clone();
                s.insert(at.index(s.len() + 1), ' ');
                s
            }
        };
        if other == canonical {
            return Ok(()); // that change spells nothing else here
        }
        let got = decode(format!("=?base64?{other}?=").as_bytes());
        // Whatever decodes must be the canonical spelling of what it gave.
        if let Ok(text) = got {
            prop_assert_eq!(STANDARD.encode(text), other);
        }
    }

    /// Headers a client builds from the body always match it, for every
    /// method that mirrors a name.
    #[test]
    fn headers_built_from_the_body_match(
        method in prop::sample::select(vec!["tools/call", "prompts/get", "resources/read", "tools/list"]),
        name in value(),
    ) {
        let params = match method {
            "resources/read" => json!({"uri": name}),
            _ => json!({"name": name}),
        };
        let mut headers = HeaderMap::new();
        headers.insert("mcp-method", HeaderValue::from_str(method).map_err(|e| TestCaseError::fail(e.to_string()))?);
        headers.insert("mcp-name", HeaderValue::from_str(&encode(&name)).map_err(|e| TestCaseError::fail(e.to_string()))?);
        let raw = serde_json::value::to_raw_value(&params).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(check(&headers, method, Some(&raw)), Ok(()));
    }

    /// Any headers against any body: a verdict, never a panic.
    #[test]
    fn any_headers_never_panic(
        method in "[a-z/]{0,12}", raw in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 3),
        body in prop_oneof![Just(json!({})), Just(json!({"name": 1})), Just(json!({"uri": null, "taskId": [1]})), "\\PC{0,8}".prop_map(|n| json!({"name": n}))],
    ) {
        let mut headers = HeaderMap::new();
        for (name, raw) in ["mcp-method", "mcp-name", "mcp-param-x"].into_iter().zip(&raw) {
            if let Ok(v) = HeaderValue::from_bytes(raw) {
                headers.append(name, v);
            }
        }
        if let Ok(raw) = serde_json::value::to_raw_value(&body) {
            let _ = check(&headers, &method, Some(&raw));
        }
        let schema = json!({"properties": {"x": {"x-mcp-header": "X"}, "y": {"x-mcp-header": 5}}});
        let _ = check_params(&headers, &schema, &body);
        let _ = check_params(&headers, &schema, &Value::Null);
    }
}
