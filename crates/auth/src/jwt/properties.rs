//! Property tests of the readers under the verifier: the token header, the
//! JWKS document and the claims. No panic on any input (keys of any type,
//! curve and length included); a header's `alg` and `kid` read back as
//! written; the usable keys of a JWKS are found among any junk; claims of
//! any types are read or refused, never misread.
//!
//! Case counts are for CI; `PROPTEST_CASES=<n>` runs `n` of each instead
//! (docs/testing.md).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Map, Value, json};

use super::claims::{Expect, extract};
use super::keys::{KeyAlg, parse_header, parse_jwks};

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

const FIXTURES: [&str; 4] = [
    include_str!("../../tests/keys/rsa-1.jwk.json"),
    include_str!("../../tests/keys/ec-1.jwk.json"),
    include_str!("../../tests/keys/ed-1.jwk.json"),
    include_str!("../../tests/keys/rsa-2.jwk.json"),
];

/// Any JSON value.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e20f64..1e20).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// base64url of random bytes, usually `n` of them (the length the key
/// wants), sometimes another length, sometimes not base64url at all.
fn b64_param(n: usize) -> impl Strategy<Value = Value> {
    let len = prop_oneof![4 => Just(n), 1 => 0usize..300];
    prop_oneof![
        8 => len.prop_flat_map(|n| prop::collection::vec(any::<u8>(), n))
            .prop_map(|b| Value::from(URL_SAFE_NO_PAD.encode(b))),
        1 => Just(Value::from("not base64!")),
        1 => value(),
    ]
}

/// A JWK of one kind (RSA, P-256, Ed25519, or another) with random
/// parameters of mostly the right sizes and random `alg`, `use`, `key_ops`
/// (no `kid`: the test names it).
fn junk_jwk() -> impl Strategy<Value = Value> {
    let pick = |options: &'static [&'static str]| {
        prop::option::of(prop::sample::select(options).prop_map(Value::from))
    };
    let kind = prop_oneof![
        (b64_param(256), b64_param(3)).prop_map(|(n, e)| json!({"kty": "RSA", "n": n, "e": e})),
        (b64_param(32), b64_param(32))
            .prop_map(|(x, y)| json!({"kty": "EC", "crv": "P-256", "x": x, "y": y})),
        b64_param(32).prop_map(|x| json!({"kty": "OKP", "crv": "Ed25519", "x": x})),
        (
            pick(&["oct", "EC", "OKP", ""]),
            pick(&["P-384", "X25519", "secp256k1"]),
            b64_param(32)
        )
            .prop_map(|(kty, crv, k)| json!({"kty": kty, "crv": crv, "k": k, "x": k})),
    ];
    (
        kind,
        pick(&["RS256", "ES256", "EdDSA", "HS256", "none"]),
        pick(&["sig", "enc"]),
        prop::option::of(prop_oneof![
            Just(json!(["verify"])),
            Just(json!(["sign"])),
            value()
        ]),
    )
        .prop_map(|(mut k, alg, use_, key_ops)| {
            for (name, v) in [("alg", alg), ("use", use_), ("key_ops", key_ops)] {
                if let Some(v) = v {
                    k[name] = v;
                }
            }
            k
        })
}

fn expect() -> Expect {
    Expect {
        issuer: "https://idp".into(),
        audience: vec!["mcp".into()],
        tenant_claim: "org",
    }
}

/// Claims with the names the reader looks at, holding values of any type.
fn claims() -> impl Strategy<Value = Map<String, Value>> {
    let names = ["iss", "aud", "sub", "org", "exp", "scope", "scp", "nbf"];
    let fitting = prop_oneof![
        Just(json!("https://idp")),
        Just(json!("mcp")),
        Just(json!(["x", "mcp"])),
        Just(json!("a b")),
        Just(json!(12345)),
        Just(json!(1.5)),
    ];
    prop::collection::vec(prop_oneof![fitting, value()], names.len()).prop_map(move |values| {
        names
            .iter()
            .zip(values)
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| ((*k).to_owned(), v))
            .collect()
    })
}

fn token_with_header(header: &str) -> String {
    format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header))
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Any token text: a header or why not, never a panic.
    #[test]
    fn any_token_text_never_panics(text in "\\PC{0,64}", header in "\\PC{0,48}") {
        let _ = parse_header(&text);
        let _ = parse_header(&token_with_header(&header));
    }

    /// A header's `alg` and `kid` read back as written, beside any other
    /// members; `crit` is refused.
    #[test]
    fn header_alg_and_kid_read_back(
        alg in prop::sample::select(vec![KeyAlg::Hs256, KeyAlg::Rs256, KeyAlg::Es256, KeyAlg::EdDsa]),
        kid in prop::option::of("\\PC{0,16}"),
        extra in prop::collection::btree_map("[a-z]{1,3}", value(), 0..3),
        crit in any::<bool>(),
    ) {
        let mut h: Map<String, Value> = extra.into_iter().filter(|(k, _)| k != "crit").collect();
        h.insert("alg".into(), alg.name().into());
        if let Some(kid) = &kid {
            h.insert("kid".into(), kid.clone().into());
        } else {
            h.remove("kid");
        }
        if crit {
            h.insert("crit".into(), json!(["exp"]));
        }
        let got = parse_header(&token_with_header(&Value::Object(h).to_string()));
        if crit {
            prop_assert!(got.is_err());
        } else {
            let got = got.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(got.alg, alg);
            prop_assert_eq!(got.kid, kid);
        }
    }

    /// Any bytes as a JWKS: keys or why not, never a panic.
    #[test]
    fn any_jwks_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_jwks(&body);
    }

    /// Claims of any types: read as given or refused, never a panic.
    #[test]
    fn claims_of_any_type_are_read_or_refused(c in claims()) {
        if let Ok(got) = extract(&c, &expect()) {
            prop_assert_eq!(Some(got.subject.as_str()), c["sub"].as_str());
            prop_assert_eq!(Some(got.tenant.as_str()), c["org"].as_str());
            prop_assert_eq!(c["iss"].as_str(), Some("https://idp"));
        }
    }
}

proptest! {
    // Every near-valid curve point is checked by making a verifier: fewer
    // cases.
    #![proptest_config(cases(500))]

    /// A JWKS of junk keys and the fixture keys: no panic, the fixture keys
    /// all found in order, and a junk key found only when it keeps every
    /// rule (for signing, the algorithm of its kind, the sizes it needs).
    #[test]
    fn usable_keys_are_found_among_junk(
        junk in prop::collection::vec(junk_jwk(), 0..6),
        fixtures in prop::sample::subsequence(FIXTURES.to_vec(), 0..=4),
        order in prop::collection::vec(any::<u16>(), 10),
    ) {
        let fixtures: Vec<Value> = fixtures.iter().map(|f| serde_json::from_str(f).expect("a fixture")).collect();
        let junk = junk.into_iter().enumerate().map(|(i, mut k)| {
            k["kid"] = Value::from(format!("junk-{i}"));
            k
        });
        let mut keys: Vec<(Value, u16)> = junk.chain(fixtures.iter().cloned()).zip(order).collect();
        keys.sort_by_key(|(_, o)| *o);
        let keys: Vec<Value> = keys.into_iter().map(|(k, _)| k).collect();
        let doc = json!({ "keys": keys }).to_string();
        let got = parse_jwks(doc.as_bytes()).map_err(TestCaseError::fail)?;
        let ours = |kid: &&str| !kid.starts_with("junk-");
        let found: Vec<&str> = got.iter().filter_map(|k| k.kid.as_deref()).filter(ours).collect();
        let want: Vec<&str> = keys.iter().filter_map(|k| k["kid"].as_str()).filter(ours).collect();
        prop_assert_eq!(found, want);
        for k in &got {
            let jwk = keys.iter().find(|j| j["kid"].as_str() == k.kid.as_deref()).expect("a key of the document");
            prop_assert!(keeps_the_rules(jwk, k.alg), "{} is usable as {:?}", jwk, k.alg);
        }
    }
}

/// Whether `jwk` keeps every rule of a usable key for `alg`.
fn keeps_the_rules(jwk: &Value, alg: KeyAlg) -> bool {
    let size = |name: &str| {
        jwk[name]
            .as_str()
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .map(|b| b.len())
    };
    let kind = match alg {
        KeyAlg::Rs256 => {
            jwk["kty"] == "RSA"
                && size("n") >= Some(256)
                && size("e").is_some_and(|e| (1..=8).contains(&e))
        }
        KeyAlg::Es256 => {
            jwk["kty"] == "EC"
                && jwk["crv"] == "P-256"
                && size("x") == Some(32)
                && size("y") == Some(32)
        }
        KeyAlg::EdDsa => jwk["kty"] == "OKP" && jwk["crv"] == "Ed25519" && size("x") == Some(32),
        KeyAlg::Hs256 => false,
    };
    let for_signing = jwk.get("use").is_none_or(|u| u == "sig")
        && jwk
            .get("key_ops")
            .is_none_or(|ops| ops.as_array().is_some_and(|o| o.contains(&json!("verify"))));
    kind && for_signing && jwk.get("alg").is_none_or(|a| a == alg.name())
}
