//! Property tests of the raw JSON helpers: the progress-token rewrite
//! changes that one value and keeps every other member byte for byte; the
//! lines written around raw params parse back to them exactly; the helpers
//! never panic on any params.
//!
//! Case counts are for CI; `PROPTEST_CASES=<n>` runs `n` of each instead
//! (docs/testing.md).

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use switchboard_proto::{Message, parse_message};

use super::*;

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
    prop::sample::select(&["", "", "", " ", "\n", "\r\n\t", "\r"][..])
}

/// A key as JSON text: plain, or with an escape in it.
fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_]{1,8}".prop_map(|k| format!("\"{k}\"")),
        "[a-z]{0,4}".prop_map(|k| format!("\"\\u005f{k}\\n\"")),
    ]
}

/// Any JSON value as text, spelled with escapes, exponents and whitespace.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("1.50e+3".to_owned()),
        Just("-0.0".to_owned()),
        "[ -~]{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        Just(r#""\u00e9\/\"""#.to_owned()),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec((ws(), inner.clone()), 0..4).prop_map(|v| format!(
                "[{}]",
                v.into_iter()
                    .map(|(w, x)| format!("{w}{x}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            prop::collection::vec((key_text(), ws(), inner), 0..4).prop_map(|v| {
                let members: Vec<String> = v
                    .into_iter()
                    .map(|(k, w, x)| format!("{k}:{w}{x}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// An object of `members` (key text, value text) with whitespace around.
fn object(members: &[(String, String)], space: &str) -> String {
    let parts: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{space}{k}{space}:{space}{v}{space}"))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// The members of an object as (key, raw value text), in order.
fn members(text: &str) -> Vec<(String, String)> {
    let raw = RawValue::from_string(text.to_owned()).expect("valid JSON");
    RawObject::parse(&raw)
        .expect("an object")
        .0
        .into_iter()
        .map(|(k, v)| (k, v.get().to_owned()))
        .collect()
}

/// The key a key's text spells.
fn key_of(text: &str) -> String {
    serde_json::from_str(text).expect("a JSON string")
}

/// Params with a `_meta` holding a `progressToken` among other members.
#[derive(Debug, Clone)]
struct WithToken {
    outer: Vec<(String, String)>,
    meta: Vec<(String, String)>,
    token: String,
    space: &'static str,
}

fn with_token() -> impl Strategy<Value = WithToken> {
    let others = || {
        prop::collection::vec((key_text(), json_text()), 0..4).prop_map(|v| {
            v.into_iter()
                .filter(|(k, _)| !matches!(key_of(k).as_str(), "_meta" | "progressToken"))
                .collect::<Vec<_>>()
        })
    };
    let spellings = |names: &'static [&'static str]| prop::sample::select(names);
    (
        (others(), others(), json_text(), ws()),
        spellings(&["\"_meta\"", "\"\\u005fmeta\"", "\"_m\\u0065ta\""]),
        spellings(&["\"progressToken\"", "\"progress\\u0054oken\""]),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
    )
        .prop_map(
            |((mut outer, mut meta, token, space), meta_key, token_key, (at_outer, at_meta))| {
                let i = at_meta.index(meta.len() + 1);
                meta.insert(i, (token_key.to_owned(), token.clone()));
                let i = at_outer.index(outer.len() + 1);
                outer.insert(i, (meta_key.to_owned(), object(&meta, space)));
                WithToken {
                    outer,
                    meta,
                    token,
                    space,
                }
            },
        )
}

proptest! {
    #![proptest_config(cases(2000))]

    /// The rewrite returns the original token to the byte, puts ours in its
    /// place, and keeps every other member (of params and of `_meta`) byte
    /// for byte and in order.
    #[test]
    fn progress_token_rewrite_changes_nothing_else(p in with_token(), ours in "[ -~]{0,12}") {
        let text = object(&p.outer, p.space);
        let raw = RawValue::from_string(text.clone()).expect("valid JSON");
        let (new, original, _) = replace_progress_token(&raw, || ours.clone()).ok_or_else(|| TestCaseError::fail(format!("no token found in {text}")))?;
        prop_assert_eq!(original.get(), p.token.as_str());
        let got = members(new.get());
        prop_assert_eq!(got.len(), p.outer.len());
        for ((k, v), (want_k, want_v)) in got.iter().zip(&p.outer) {
            prop_assert_eq!(k, &key_of(want_k));
            if k != "_meta" {
                prop_assert_eq!(v, want_v);
                continue;
            }
            let meta = members(v);
            prop_assert_eq!(meta.len(), p.meta.len());
            for ((mk, mv), (want_mk, want_mv)) in meta.iter().zip(&p.meta) {
                prop_assert_eq!(mk, &key_of(want_mk));
                let want = if mk == "progressToken" { json_string(&ours) } else { want_mv.clone() };
                prop_assert_eq!(mv, &want);
            }
        }
    }

    /// Any params at all: a rewrite or none, never a panic; without a
    /// token, none.
    #[test]
    fn any_params_never_panic(text in json_text(), ours in "[ -~]{0,8}") {
        let raw = RawValue::from_string(text.clone()).expect("valid JSON");
        let found = replace_progress_token(&raw, || ours.clone());
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let has = v.get("_meta").and_then(|m| m.get("progressToken")).is_some();
        prop_assert!(found.is_some() || !has, "a token in {} was not found", text);
        let _ = cancelled_request_id(Some(&raw));
        let _ = rpc_error(&raw);
    }

    /// The lines written around raw params parse back to exactly them.
    #[test]
    fn lines_round_trip(id in any::<u64>(), method in ".{1,16}", params in prop::option::of(json_text())) {
        let raw = params.as_deref().map(|p| RawValue::from_string(p.to_owned()).expect("valid JSON"));
        match parse_message(request_line(id, &method, raw.as_deref()).as_bytes()) {
            Ok(Message::Request { id: got, method: m, params: p }) => {
                prop_assert_eq!(got.as_json(), id.to_string());
                prop_assert_eq!(m, method.clone());
                prop_assert_eq!(p.as_ref().map(|p| p.get()), params.as_deref());
            }
            other => prop_assert!(false, "{:?}", other),
        }
        match parse_message(notification_line(&method, raw.as_deref()).as_bytes()) {
            Ok(Message::Notification { method: m, params: p }) => {
                prop_assert_eq!(m, method);
                prop_assert_eq!(p.as_ref().map(|p| p.get()), params.as_deref());
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// A cancellation names the request by its id's exact text.
    #[test]
    fn cancelled_ids_are_exact(id in json_text(), reason in json_text(), space in ws()) {
        let text = object(&[("\"reason\"".into(), reason), ("\"requestId\"".into(), id.clone())], space);
        let raw = RawValue::from_string(text).expect("valid JSON");
        prop_assert_eq!(cancelled_request_id(Some(&raw)), Some(id));
    }

    /// A cut string is a prefix of the original on a char boundary, within
    /// the limit, marked when cut.
    #[test]
    fn truncation_is_a_marked_prefix(s in ".{0,40}", max in 0usize..48) {
        let t = truncate(&s, max);
        if s.len() <= max {
            prop_assert_eq!(t, s);
        } else {
            let mark = format!("… ({} bytes)", s.len());
            let kept = t.strip_suffix(&mark).ok_or_else(|| TestCaseError::fail(format!("no mark: {t}")))?;
            prop_assert!(s.starts_with(kept) && kept.len() <= max);
        }
    }
}
