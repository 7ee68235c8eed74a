use super::*;

fn single(s: &str) -> Result<Message, ParseError> {
    match parse_body(s.as_bytes())? {
        Incoming::Single(m) => Ok(m),
        Incoming::Batch(_) => panic!("expected a single message"),
    }
}

#[test]
fn request_keeps_params_raw_and_id_exact() {
    let m = single(
        r#"{"jsonrpc":"2.0","id":"a\u0062","method":"tools/call","params":{"x":1.0,"y":[1, 2]}}"#,
    )
    .unwrap();
    match m {
        Message::Request { id, method, params } => {
            assert_eq!(id.as_json(), r#""a\u0062""#);
            assert_eq!(method, "tools/call");
            assert_eq!(params.unwrap().get(), r#"{"x":1.0,"y":[1, 2]}"#);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn notification_has_no_id() {
    let m = single(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
    assert!(matches!(m, Message::Notification { .. }));
}

#[test]
fn responses_both_kinds() {
    let ok = single(r#"{"jsonrpc":"2.0","id":7,"result":{}}"#).unwrap();
    assert!(matches!(ok, Message::Response { outcome: Ok(_), .. }));
    let err = single(r#"{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"x"}}"#).unwrap();
    assert!(matches!(
        err,
        Message::Response {
            outcome: Err(_),
            ..
        }
    ));
}

#[test]
fn bad_inputs() {
    assert!(matches!(single("{"), Err(ParseError::Json(_))));
    assert!(matches!(single(""), Err(ParseError::Json(_))));
    assert_eq!(
        single(r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#).unwrap_err(),
        ParseError::BadVersion
    );
    assert_eq!(
        single(r#"{"id":1,"method":"x"}"#).unwrap_err(),
        ParseError::BadVersion
    );
    assert_eq!(
        single(r#"{"jsonrpc":"2.0","id":1}"#).unwrap_err(),
        ParseError::NotAMessage
    );
    assert_eq!(
        single(r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#).unwrap_err(),
        ParseError::BadId
    );
    assert_eq!(
        single(r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#).unwrap_err(),
        ParseError::BadId
    );
    assert_eq!(
        single(r#"{"jsonrpc":"2.0","id":1,"method":""}"#).unwrap_err(),
        ParseError::BadMethod
    );
    assert_eq!(
        single(r#"{"jsonrpc":"2.0","id":1,"method":5}"#).unwrap_err(),
        ParseError::BadMethod
    );
    assert_eq!(single("42").unwrap_err(), ParseError::NotAnObject);
    assert_eq!(parse_body(b"[]").unwrap_err(), ParseError::EmptyBatch);
    assert_eq!(
        single(r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#).unwrap_err(),
        ParseError::NotAMessage
    );
}

#[test]
fn a_method_is_read_in_place_or_decoded_the_same() {
    let method = |body: &str| single(body).unwrap().method().map(str::to_owned);
    let plain = method(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#);
    assert_eq!(plain.as_deref(), Some("tools/call"));
    for escaped in [
        r#""tools\/call""#,
        r#""tools\u002fcall""#,
        r#""\u0074ools/call""#,
    ] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":{escaped}}}"#);
        assert_eq!(method(&body), plain, "{escaped}");
    }
    let quote = method(r#"{"jsonrpc":"2.0","method":"a\"b"}"#);
    assert_eq!(quote.as_deref(), Some("a\"b"));
    for not_a_string in ["null", "[]", "{}", "true"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":{not_a_string}}}"#);
        assert_eq!(
            single(&body).unwrap_err(),
            ParseError::BadMethod,
            "{not_a_string}"
        );
    }
}

#[test]
fn batch_elements_parse_alone() {
    let b = parse_body(
        br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}, 5, {"jsonrpc":"2.0","method":"n"}]"#,
    )
    .unwrap();
    match b {
        Incoming::Batch(items) => {
            assert_eq!(items.len(), 3);
            assert!(items[0].is_ok());
            assert!(items[1].is_err());
            assert!(items[2].is_ok());
        }
        Incoming::Single(_) => panic!(),
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_body(deep.as_bytes()).is_err());
    let deep_params = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{}1{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_eq!(single(&deep_params).unwrap_err(), ParseError::TooDeep);
    // Brackets inside strings do not count; 128 levels are fine.
    let ok = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{{"s":"{}\\\"[","a":{}{}}}}}"#,
        "[".repeat(500),
        "[".repeat(120),
        "]".repeat(120)
    );
    assert!(single(&ok).is_ok(), "{ok}");
}

#[test]
fn serializers() {
    let id = RequestId::from_u64(3);
    assert_eq!(
        response_json(&id, "{}"),
        r#"{"jsonrpc":"2.0","id":3,"result":{}}"#
    );
    let e = RpcError::invalid_params("bad");
    assert_eq!(
        error_json(None, &e),
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"bad"}}"#
    );
    assert_eq!(RequestId::from_string("x\"y").as_json(), r#""x\"y""#);
}

/// A request or notification without params (`null`) has no `params`
/// member at all: JSON-RPC allows only an object or an array there.
#[test]
fn absent_params_stay_absent() {
    use serde_json::{Value, json};
    let id = RequestId::from_string("a");
    let cases = [
        (request_json(&id, "roots/list", &Value::Null), None),
        (
            request_json(&id, "x", &json!({"k": [1]})),
            Some(json!({"k": [1]})),
        ),
        (notification_json("notifications/x", &Value::Null), None),
        (
            notification_json("notifications/x", &json!({})),
            Some(json!({})),
        ),
    ];
    for (text, params) in cases {
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.get("params").cloned(), params, "{text}");
        assert_eq!(v["jsonrpc"], "2.0", "{text}");
        assert!(single(&text).is_ok(), "{text}");
    }
    assert_eq!(
        request_json(&id, "m\"", &json!([1])),
        r#"{"jsonrpc":"2.0","id":"a","method":"m\"","params":[1]}"#
    );
    assert_eq!(
        input_request("roots/list", Value::Null),
        json!({"method": "roots/list"})
    );
    assert_eq!(
        input_request("elicitation/create", json!({"message": "?"})),
        json!({"method": "elicitation/create", "params": {"message": "?"}})
    );
}

/// A small deterministic fuzzer: mutations of valid messages never panic
/// the parser, and whatever parses re-serializes its id losslessly.
#[test]
fn mutated_messages_never_panic() {
    let seeds: [&[u8]; 4] = [
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"h\u00e9"}}}"#,
        br#"[{"jsonrpc":"2.0","id":"x","method":"ping"},{"jsonrpc":"2.0","method":"n","params":[1,2.5e3,null]}]"#,
        br#"{"jsonrpc":"2.0","id":-7,"result":{"content":[{"type":"text","text":"\"quoted\""}]}}"#,
        br#"{"jsonrpc":"2.0","id":7,"error":{"code":-32600,"message":"m","data":{"a":[{}]}}}"#,
    ];
    let alphabet = b"{}[]\",:\\ 0123456789.-eEtrufalsn\x00\xff\xc3\xa9";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20_000 {
        let mut bytes = seeds[round % seeds.len()].to_vec();
        for _ in 0..(next() % 4 + 1) {
            let pos = (next() as usize) % (bytes.len() + 1);
            let byte = alphabet[(next() as usize) % alphabet.len()];
            match next() % 3 {
                0 if pos < bytes.len() => bytes[pos] = byte,
                1 => bytes.insert(pos, byte),
                _ => bytes.truncate(pos.max(1)),
            }
        }
        if let Ok(Incoming::Single(Message::Request { id, .. })) = parse_body(&bytes) {
            let text = response_json(&id, "{}");
            let v: serde_json::Value =
                serde_json::from_str(&text).expect("a parsed id re-serializes as JSON");
            assert_eq!(v["jsonrpc"], "2.0");
        }
    }
}

#[test]
fn may_hold_key_is_false_only_when_the_key_cannot_be_there() {
    assert!(may_hold_key(
        r#"{"_meta":{"progressToken":1}}"#,
        "progressToken"
    ));
    assert!(!may_hold_key(r#"{"name":"echo","arguments":{}}"#, "task"));
    // An escape could spell it: parse to know.
    assert!(may_hold_key(r#"{"\u0074ask":{}}"#, "task"));
    // Other escapes cannot spell a letter.
    assert!(!may_hold_key(r#"{"name":"a\"b\\c"}"#, "task"));
    // The text appearing as a value still says "maybe".
    assert!(may_hold_key(r#"{"name":"task"}"#, "task"));
}
