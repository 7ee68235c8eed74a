//! Unit tests of header parsing, JWK parsing and key lookup.

use serde_json::{Value, json};

use super::*;

const RSA: &str = include_str!("../../tests/keys/rsa-1.jwk.json");
const EC: &str = include_str!("../../tests/keys/ec-1.jwk.json");
const ED: &str = include_str!("../../tests/keys/ed-1.jwk.json");

fn jwk(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn token_with_header(header: &Value) -> String {
    format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header.to_string()))
}

fn header_err(header: Value) -> JwtError {
    parse_header(&token_with_header(&header)).unwrap_err()
}

#[test]
fn header_alg_and_kid() {
    let h = parse_header(&token_with_header(&json!({"alg": "ES256", "kid": "k"}))).unwrap();
    assert_eq!((h.alg, h.kid.as_deref()), (KeyAlg::Es256, Some("k")));
    let h = parse_header(&token_with_header(&json!({"alg": "EdDSA", "typ": "JWT"}))).unwrap();
    assert_eq!((h.alg, h.kid), (KeyAlg::EdDsa, None));
}

#[test]
fn header_refusals() {
    for alg in ["none", "None", "RS384", "PS256", "HS512", "ES256K", ""] {
        let e = header_err(json!({"alg": alg}));
        assert!(
            matches!(&e, JwtError::UnsupportedAlgorithm(a) if a == alg),
            "{alg}: {e:?}"
        );
    }
    assert!(
        matches!(header_err(json!({"alg": "x\"y"})), JwtError::UnsupportedAlgorithm(a) if a == "x?y")
    );
    assert!(matches!(
        header_err(json!({"typ": "JWT"})),
        JwtError::Malformed(_)
    ));
    assert!(matches!(
        header_err(json!({"alg": 1})),
        JwtError::Malformed(_)
    ));
    assert!(matches!(header_err(json!(["alg"])), JwtError::Malformed(_)));
    assert!(matches!(
        header_err(json!({"alg": "RS256", "kid": 3})),
        JwtError::Malformed(_)
    ));
    let crit = json!({"alg": "RS256", "crit": ["exp"], "exp": 1});
    assert!(matches!(header_err(crit), JwtError::Malformed(_)));
    for bad in [
        "",
        "a.b",
        "a.b.c.d",
        ".e30.x",
        "e30..x",
        "!!.e30.x",
        &"a".repeat(MAX_TOKEN + 1),
    ] {
        assert!(
            matches!(parse_header(bad), Err(JwtError::Malformed(_))),
            "{bad:.20}"
        );
    }
}

#[test]
fn fixture_jwks_parse() {
    let doc = json!({"keys": [jwk(RSA), jwk(EC), jwk(ED)]}).to_string();
    let keys = parse_jwks(doc.as_bytes()).unwrap();
    let got: Vec<_> = keys
        .iter()
        .map(|k| (k.kid.as_deref().unwrap(), k.alg))
        .collect();
    assert_eq!(
        got,
        [
            ("rsa-1", KeyAlg::Rs256),
            ("ec-1", KeyAlg::Es256),
            ("ed-1", KeyAlg::EdDsa)
        ]
    );
    assert!(parse_jwks(b"[]").is_err());
    assert!(parse_jwks(b"{\"keys\": {}}").is_err());
    assert!(parse_jwks(b"nope").is_err());
    assert!(parse_jwks(b"{\"keys\": []}").unwrap().is_empty());
}

#[test]
fn unusable_jwks_keys_are_skipped() {
    let with = |base: &str, key: &str, value: Value| {
        let mut j = jwk(base);
        j[key] = value;
        j
    };
    let mut no_alg = jwk(RSA);
    no_alg.as_object_mut().unwrap().remove("alg");
    let skipped = [
        with(RSA, "use", json!("enc")),
        with(RSA, "key_ops", json!(["encrypt"])),
        with(RSA, "alg", json!("RS384")),
        with(RSA, "alg", json!("ES256")),
        with(EC, "crv", json!("P-384")),
        with(EC, "x", json!("AAAA")),
        with(EC, "y", jwk(EC)["x"].clone()), // not a point on the curve
        with(ED, "crv", json!("X25519")),
        with(RSA, "n", json!("AQAB")), // far too short
        json!({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", "kid": "h"}),
        json!({"kty": "RSA", "kid": "broken"}),
        json!("not an object"),
    ];
    let doc = json!({ "keys": skipped }).to_string();
    assert!(parse_jwks(doc.as_bytes()).unwrap().is_empty());
    let doc = json!({ "keys": [no_alg, with(EC, "key_ops", json!(["verify"]))] }).to_string();
    assert_eq!(parse_jwks(doc.as_bytes()).unwrap().len(), 2);
}

#[test]
fn lookup_by_kid_and_alg() {
    let mut anon = jwk(ED);
    anon.as_object_mut().unwrap().remove("kid");
    let doc = json!({"keys": [jwk(RSA), jwk(EC), anon]}).to_string();
    let keys = parse_jwks(doc.as_bytes()).unwrap();
    assert!(matches!(
        find(&keys, KeyAlg::Rs256, Some("rsa-1")),
        Lookup::Found(_)
    ));
    assert!(matches!(
        find(&keys, KeyAlg::Es256, Some("rsa-1")),
        Lookup::WrongAlg
    ));
    assert!(matches!(
        find(&keys, KeyAlg::Rs256, Some("rsa-9")),
        Lookup::Missing
    ));
    assert!(matches!(find(&keys, KeyAlg::EdDsa, None), Lookup::Found(_)));
    assert!(matches!(find(&keys, KeyAlg::Es256, None), Lookup::Found(_)));
    let two = json!({"keys": [jwk(RSA), jwk(include_str!("../../tests/keys/rsa-2.jwk.json"))]});
    let keys = parse_jwks(two.to_string().as_bytes()).unwrap();
    assert!(matches!(
        find(&keys, KeyAlg::Rs256, None),
        Lookup::Ambiguous
    ));
    assert!(matches!(find(&keys, KeyAlg::EdDsa, None), Lookup::Missing));
}
