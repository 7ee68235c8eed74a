//! Property tests of the JSON-RPC envelope: any bytes are answered without a
//! panic; ids, params, results and errors come out byte for byte as they
//! went in, whatever their spelling (escapes, whitespace, member order); the
//! serialisers' output parses back to what they were given; what is not a
//! valid message is refused with its precise reason.
//!
//! Case counts are for CI; `PROPTEST_CASES=<n>` runs `n` of each instead
//! (docs/testing.md).

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_proto::envelope::MAX_DEPTH;
use switchboard_proto::{
    ErrorCode, Incoming, Message, ParseError, RequestId, RpcError, error_json, may_hold_key,
    notification_json, parse_body, parse_message, request_json, response_json,
};

/// `n` cases, or `PROPTEST_CASES` when it is set.
fn cases(n: u32) -> ProptestConfig {
    let from_env = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: from_env.unwrap_or(n),
        ..ProptestConfig::default()
    }
}

/// JSON whitespace, usually none.
fn ws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["", "", "", "", " ", "\n", "\r\n\t", "\t ", "\r"][..])
}

/// One character of a JSON string, spelled one of the ways JSON allows
/// (`choice` picks: as itself, a `\u` escape in either case, a short escape).
fn spell_char(c: char, choice: u8, out: &mut String) {
    let short = match c {
        '"' => Some("\\\""),
        '\\' => Some("\\\\"),
        '/' => Some("\\/"),
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        '\t' => Some("\\t"),
        '\u{8}' => Some("\\b"),
        '\u{c}' => Some("\\f"),
        _ => None,
    };
    let must_escape = c == '"' || c == '\\' || (c as u32) < 0x20;
    match (choice % 4, short) {
        (0, _) if !must_escape => out.push(c),
        (1, Some(s)) => out.push_str(s),
        (n, _) => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                if n == 2 {
                    out.push_str(&format!("\\u{unit:04x}"));
                } else {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
}

/// `chars` as a JSON string, each character spelled as its choice says.
fn spell(chars: impl IntoIterator<Item = (char, u8)>) -> String {
    let mut out = String::from("\"");
    for (c, k) in chars {
        spell_char(c, k, &mut out);
    }
    out.push('"');
    out
}

/// A short string's characters: mostly ASCII, some from anywhere.
fn chars(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<(char, u8)>> {
    let c = prop_oneof![4 => proptest::char::range(' ', '~'), 1 => any::<char>()];
    prop::collection::vec((c, any::<u8>()), len)
}

/// A JSON string: `(its value, its text)`.
fn json_string() -> impl Strategy<Value = (String, String)> {
    chars(0..10).prop_map(|cs| (cs.iter().map(|(c, _)| c).collect(), spell(cs)))
}

/// A JSON number as text, in any of the spellings JSON allows.
fn json_number() -> impl Strategy<Value = String> {
    let digits = prop_oneof![Just(0u64), 1..10u64, any::<u64>()];
    let fraction = prop::option::of((0..6usize, any::<u32>()));
    let exponent = prop::option::of((0..3usize, 0..400u16, any::<bool>()));
    (any::<bool>(), digits, fraction, exponent).prop_map(|(minus, int, fraction, exponent)| {
        let mut out = if minus {
            format!("-{int}")
        } else {
            int.to_string()
        };
        if let Some((zeros, digits)) = fraction {
            out.push_str(&format!(".{}{digits}", "0".repeat(zeros)));
        }
        if let Some((style, n, upper)) = exponent {
            out.push(if upper { 'E' } else { 'e' });
            out.push_str(["", "+", "-"][style]);
            out.push_str(&n.to_string());
        }
        out
    })
}

/// Any JSON value as text, with random spelling and whitespace.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        json_number(),
        json_string().prop_map(|(_, text)| text),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec((ws(), inner.clone(), ws()), 0..4).prop_map(|items| {
                let items: Vec<String> = items
                    .into_iter()
                    .map(|(a, v, b)| format!("{a}{v}{b}"))
                    .collect();
                format!("[{}]", items.join(","))
            }),
            prop::collection::vec((json_string(), ws(), inner, ws()), 0..4).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|((_, key), a, v, b)| format!("{key}{a}:{b}{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// A request id as text: a string (spelled at random) or a number.
fn id_text() -> impl Strategy<Value = String> {
    prop_oneof![json_string().prop_map(|(_, text)| text), json_number()]
}

/// A member name spelled at random (escapes included).
fn key(name: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), name.len()).prop_map(move |k| spell(name.chars().zip(k)))
}

/// How an object is laid out besides its members: a few members the
/// envelope does not know, the whitespace around each, and their order.
#[derive(Debug, Clone)]
struct Layout {
    extra: Vec<(String, String)>,
    spaces: Vec<(&'static str, &'static str, &'static str, &'static str)>,
    order: Vec<u16>,
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        prop::collection::vec(
            (
                prop::sample::select(&["x", "ids", "Method", "jsonrpcx", "_meta"][..]),
                json_text(),
            ),
            0..3,
        ),
        prop::collection::vec((ws(), ws(), ws(), ws()), 8),
        prop::collection::vec(any::<u16>(), 8),
    )
        .prop_map(|(extra, spaces, order)| Layout {
            extra: extra
                .into_iter()
                .map(|(k, v)| (format!("\"{k}\""), v))
                .collect(),
            spaces,
            order,
        })
}

/// An object of `members` (key text, value text) laid out by `layout`.
fn object(mut members: Vec<(String, String)>, layout: Layout) -> String {
    members.extend(layout.extra);
    let mut members: Vec<_> = members.into_iter().zip(layout.order).collect();
    members.sort_by_key(|(_, order)| *order);
    let parts: Vec<String> = members
        .into_iter()
        .zip(layout.spaces)
        .map(|(((k, v), _), (a, b, c, d))| format!("{a}{k}{b}:{c}{v}{d}"))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// What a request is made of, and its text.
#[derive(Debug, Clone)]
struct Request {
    id: Option<String>,
    method: String,
    params: Option<String>,
    text: String,
}

/// A request (or, without an id, a notification) spelled at random.
fn request() -> impl Strategy<Value = Request> {
    (
        prop::option::of(id_text()),
        chars(1..12),
        prop::option::of(json_text()),
        (key("jsonrpc"), key("id"), key("method"), key("params")),
        layout(),
    )
        .prop_map(|(id, method, params, (kj, ki, km, kp), layout)| {
            let method_text = spell(method.iter().copied());
            let mut members = vec![(kj, "\"2.0\"".to_owned()), (km, method_text)];
            members.extend(id.clone().map(|id| (ki, id)));
            members.extend(params.clone().map(|p| (kp, p)));
            Request {
                id,
                method: method.iter().map(|(c, _)| c).collect(),
                params,
                text: object(members, layout),
            }
        })
}

/// What a response is made of, and its text.
#[derive(Debug, Clone)]
struct Response {
    id: String,
    value: String,
    is_error: bool,
    text: String,
}

/// A success or error response spelled at random.
fn response() -> impl Strategy<Value = Response> {
    (
        id_text(),
        json_text(),
        any::<bool>(),
        (key("jsonrpc"), key("id"), key("result"), key("error")),
        layout(),
    )
        .prop_map(|(id, value, is_error, (kj, ki, kr, ke), layout)| {
            let outcome = if is_error { ke } else { kr };
            let members = vec![
                (kj, "\"2.0\"".to_owned()),
                (ki, id.clone()),
                (outcome, value.clone()),
            ];
            Response {
                text: object(members, layout),
                id,
                value,
                is_error,
            }
        })
}

/// The one message of a body that must hold exactly one.
fn single(body: &[u8]) -> Result<Message, ParseError> {
    match parse_body(body)? {
        Incoming::Single(m) => Ok(m),
        Incoming::Batch(_) => panic!("a single message parsed as a batch"),
    }
}

/// Whether a parsed message is the request `r` to the byte.
fn is_exactly(m: &Message, r: &Request) -> Result<(), TestCaseError> {
    match (m, &r.id) {
        (Message::Request { id, method, params }, Some(want)) => {
            prop_assert_eq!(id.as_json(), want.as_str());
            prop_assert_eq!(method, &r.method);
            prop_assert_eq!(params.as_ref().map(|p| p.get()), r.params.as_deref());
        }
        (Message::Notification { method, params }, None) => {
            prop_assert_eq!(method, &r.method);
            prop_assert_eq!(params.as_ref().map(|p| p.get()), r.params.as_deref());
        }
        (other, _) => prop_assert!(false, "{:?} parsed as {:?}", r, other),
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(4000))]

    /// Any bytes at all: an answer, never a panic.
    #[test]
    fn any_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_body(&body);
        let _ = parse_message(&body);
    }

    /// Bytes made of JSON's own punctuation and words reach deeper into the
    /// parser than random bytes: still never a panic, and a parsed request's
    /// id re-serialises as JSON.
    #[test]
    fn json_token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(vec![
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\"jsonrpc\"", "\"2.0\"", "\"id\"",
        "\"method\"", "\"params\"", "\"result\"", "\"error\"", "1", "-", "0.5e3", "null",
        "true", " ", "\"x\"", "\\u00", "\u{e9}", "\u{0}",
    ]), 0..64)) {
        let body = tokens.concat();
        if let Ok(Incoming::Single(Message::Request { id, .. })) = parse_body(body.as_bytes()) {
            let echoed = response_json(&id, "{}");
            prop_assert!(serde_json::from_str::<Value>(&echoed).is_ok(), "{}", echoed);
        }
    }

    /// Nesting is refused exactly beyond MAX_DEPTH (counting the envelope),
    /// with TooDeep, never with serde_json's own recursion error.
    #[test]
    fn depth_limit_is_exact(depth in (MAX_DEPTH - 8)..(MAX_DEPTH + 8), array in any::<bool>(), pad in "[\\[\\]{}\"]{0,4}") {
        let (open, close) = if array { ("[", "]") } else { ("{\"k\":", "}") };
        // A string holding brackets does not count.
        let params = format!("{}{}{}", open.repeat(depth), serde_json::to_string(&pad).unwrap_or_default(), close.repeat(depth));
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{params}}}"#);
        let got = single(body.as_bytes());
        if depth + 1 > MAX_DEPTH {
            prop_assert_eq!(got.err(), Some(ParseError::TooDeep));
        } else {
            prop_assert!(got.is_ok(), "depth {}: {:?}", depth + 1, got.err());
        }
    }

    /// Ids made by the server read back as what they were made from.
    #[test]
    fn made_ids_round_trip(s in any::<String>(), n in any::<u64>()) {
        prop_assert_eq!(RequestId::from_string(&s).to_value(), Value::from(s));
        prop_assert_eq!(RequestId::from_u64(n).to_value(), Value::from(n));
    }

    /// `may_hold_key` is a pre-check before parsing: it may say "maybe"
    /// wrongly, never "no" when the key is there, however it is spelled.
    #[test]
    fn may_hold_key_never_misses_a_key(
        k in chars(0..10),
        value in json_text(),
    ) {
        let text = format!("{{\"a\":{value},{}:1}}", spell(k.iter().copied()));
        let k: String = k.iter().map(|(c, _)| c).collect();
        prop_assert!(may_hold_key(&text, &k), "{:?} in {}", k, text);
    }
}

proptest! {
    #![proptest_config(cases(1000))]

    /// One byte of a valid message changed, inserted or cut: never a panic.
    #[test]
    fn mutated_requests_never_panic(r in request(), at in any::<prop::sample::Index>(), byte in any::<u8>(), how in 0..3u8) {
        let mut body = r.text.into_bytes();
        let i = at.index(body.len() + 1);
        match how {
            0 if i < body.len() => body[i] = byte,
            1 => body.insert(i, byte),
            _ => body.truncate(i),
        }
        let _ = parse_body(&body);
    }

    /// However a request is spelled, its id and params come out byte for
    /// byte and its method as the string it spells.
    #[test]
    fn requests_keep_id_and_params_byte_for_byte(r in request()) {
        let m = single(r.text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {}", r.text)))?;
        is_exactly(&m, &r)?;
    }

    /// A response's id, and its result or error, come out byte for byte.
    #[test]
    fn responses_keep_id_and_outcome_byte_for_byte(r in response()) {
        match single(r.text.as_bytes()) {
            Ok(Message::Response { id, outcome }) => {
                prop_assert_eq!(id.as_json(), r.id.as_str());
                let raw = match outcome {
                    Ok(raw) if !r.is_error => raw,
                    Err(raw) if r.is_error => raw,
                    other => return Err(TestCaseError::fail(format!("wrong outcome {other:?}"))),
                };
                prop_assert_eq!(raw.get(), r.value.as_str());
            }
            other => prop_assert!(false, "{} parsed as {:?}", r.text, other),
        }
    }

    /// `jsonrpc` must be exactly the string "2.0".
    #[test]
    fn any_other_jsonrpc_is_refused(version in json_text(), r in request()) {
        prop_assume!(version != "\"2.0\"");
        let changed = r.text.replacen("\"2.0\"", &version, 1);
        prop_assume!(changed != r.text);
        // The first "2.0" may have been inside another member; only a body
        // whose jsonrpc member changed is a test of the rule.
        let Ok(v) = serde_json::from_str::<Value>(&changed) else { return Ok(()) };
        prop_assume!(v.get("jsonrpc") != Some(&Value::from("2.0")));
        let e = single(changed.as_bytes()).err();
        prop_assert!(
            matches!(e, Some(ParseError::BadVersion | ParseError::Json(_))),
            "{} gave {:?}", changed, e
        );
    }

    /// An id that is not a string or a number is refused as such.
    #[test]
    fn ids_of_other_types_are_refused(
        id in prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            json_text().prop_map(|t| format!("[{t}]")),
            json_text().prop_map(|t| format!("{{\"k\":{t}}}")),
        ],
        method in ".{1,8}",
    ) {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":{}}}"#,
            serde_json::to_string(&method).unwrap_or_default()
        );
        prop_assert_eq!(single(body.as_bytes()).err(), Some(ParseError::BadId));
    }

    /// A member given twice is refused, not read one way by us and another
    /// way by whoever we forward to.
    #[test]
    fn duplicate_members_are_refused(r in request(), which in any::<prop::sample::Index>(), value in json_text()) {
        let mut present = vec!["jsonrpc", "method"];
        present.extend(r.id.as_ref().map(|_| "id"));
        present.extend(r.params.as_ref().map(|_| "params"));
        let which = which.get(&present);
        let body = format!("{}, \"{which}\": {value}}}", r.text.trim_end().trim_end_matches('}'));
        prop_assert!(matches!(single(body.as_bytes()), Err(ParseError::Json(_))), "{}", body);
    }

    /// The serialisers write what the parser reads back: the id byte for
    /// byte, the method as given, and params, results and errors as the
    /// exact text the serialiser wrote for them.
    #[test]
    fn serialisers_round_trip(
        id in id_text(), method in ".{1,12}",
        params in json_text().prop_filter_map("beyond f64", |t| serde_json::from_str::<Value>(&t).ok()),
        code in any::<i32>(), message in ".{0,24}",
        data in prop::option::of(json_text().prop_filter_map("beyond f64", |t| serde_json::from_str::<Value>(&t).ok())),
    ) {
        let id = match parse_message(format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"m"}}"#).as_bytes()) {
            Ok(Message::Request { id, .. }) => id,
            other => return Err(TestCaseError::fail(format!("{id}: {other:?}"))),
        };
        let params_text = params.to_string();
        // `null` params mean none: the member is left out (issue 24).
        let sent = (!params.is_null()).then_some(params_text.as_str());
        match parse_message(request_json(&id, &method, &params).as_bytes()) {
            Ok(Message::Request { id: got, method: m, params: p }) => {
                prop_assert_eq!(&got, &id);
                prop_assert_eq!(m, method.clone());
                prop_assert_eq!(p.as_deref().map(RawValue::get), sent);
            }
            other => prop_assert!(false, "request_json: {:?}", other),
        }
        match parse_message(notification_json(&method, &params).as_bytes()) {
            Ok(Message::Notification { method: m, params: p }) => {
                prop_assert_eq!(m, method);
                prop_assert_eq!(p.as_deref().map(RawValue::get), sent);
            }
            other => prop_assert!(false, "notification_json: {:?}", other),
        }
        match parse_message(response_json(&id, &params_text).as_bytes()) {
            Ok(Message::Response { id: got, outcome: Ok(r) }) => {
                prop_assert_eq!(&got, &id);
                prop_assert_eq!(r.get(), params_text.as_str());
            }
            other => prop_assert!(false, "response_json: {:?}", other),
        }
        let error = RpcError { code: ErrorCode(code), message, data };
        for id in [Some(&id), None] {
            match parse_message(error_json(id, &error).as_bytes()) {
                Ok(Message::Response { id: got, outcome: Err(e) }) => {
                    prop_assert_eq!(Some(&got), id);
                    prop_assert_eq!(e.get(), error.to_json());
                }
                // An error without an id is no message we would read back.
                Err(ParseError::BadId) if id.is_none() => {}
                other => prop_assert!(false, "error_json: {:?}", other),
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(500))]

    /// A batch's elements parse as they do alone, in order.
    #[test]
    fn batch_elements_parse_as_alone(rs in prop::collection::vec(request(), 1..6), gap in ws()) {
        let texts: Vec<&str> = rs.iter().map(|r| r.text.as_str()).collect();
        let body = format!("{gap}[{}]{gap}", texts.join(&format!(",{gap}")));
        let Incoming::Batch(items) = parse_body(body.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))? else {
            return Err(TestCaseError::fail("a batch parsed as one message"));
        };
        prop_assert_eq!(items.len(), rs.len());
        for (item, r) in items.iter().zip(&rs) {
            let m = item.as_ref().map_err(|e| TestCaseError::fail(e.to_string()))?;
            is_exactly(m, r)?;
        }
    }
}
