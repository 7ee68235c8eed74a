//! JWT verification with real keys and a JWKS served over HTTP: what is
//! accepted, and the exact reason of every refusal.

use crate::common;

use common::{AUD, ISS, claims, claims_with, served, served_with};
use serde_json::json;
use switchboard_auth::JwtError;
use switchboard_auth::testing::{self, sign_hs256_with_header, unix_now, unsigned_none};

#[tokio::test]
async fn valid_rs256_es256_eddsa_accepted() {
    let (keys, server, v) = served(&["rsa-1", "ec-1", "ed-1"]).await;
    for kid in ["rsa-1", "ec-1", "ed-1"] {
        let token = keys.sign(kid, &claims_with("scope", json!("tools:call  read")));
        let c = v
            .verify(&token)
            .await
            .unwrap_or_else(|e| panic!("{kid}: {e}"));
        assert_eq!((c.tenant.as_str(), c.subject.as_str()), ("acme", "alice"));
        assert_eq!(c.scopes, ["tools:call", "read"]);
        assert!(c.expires_at > unix_now());
    }
    assert_eq!(server.fetches(), 1, "the JWKS is cached");
    assert_eq!(v.issuer(), ISS);
    let debug = format!("{v:?}");
    assert!(debug.contains("jwks_url") && debug.contains(ISS), "{debug}");
}

#[tokio::test]
async fn scp_array_and_aud_array() {
    let (keys, _server, v) = served(&["ec-1"]).await;
    let mut c = claims_with("scp", json!(["a", "b"]));
    c["aud"] = json!(["someone-else", AUD]);
    let got = v.verify(&keys.sign("ec-1", &c)).await.unwrap();
    assert_eq!(got.scopes, ["a", "b"]);
}

#[tokio::test]
async fn expiry_and_leeway() {
    let (keys, _server, v) = served(&["rsa-1"]).await;
    let now = unix_now();
    let expired = keys.sign("rsa-1", &claims_with("exp", json!(now - 60)));
    assert!(matches!(v.verify(&expired).await, Err(JwtError::Expired)));
    let within = keys.sign("rsa-1", &claims_with("exp", json!(now - 10)));
    assert_eq!(v.verify(&within).await.unwrap().expires_at, now - 10);
    let future = keys.sign("rsa-1", &claims_with("nbf", json!(now + 120)));
    assert!(matches!(
        v.verify(&future).await,
        Err(JwtError::NotYetValid)
    ));
    let soon = keys.sign("rsa-1", &claims_with("nbf", json!(now + 10)));
    v.verify(&soon).await.unwrap();
    let no_exp = keys.sign("rsa-1", &claims_with("exp", json!(null)));
    assert!(matches!(
        v.verify(&no_exp).await,
        Err(JwtError::MissingClaim("exp"))
    ));
    let text_exp = keys.sign("rsa-1", &claims_with("exp", json!("soon")));
    assert!(matches!(
        v.verify(&text_exp).await,
        Err(JwtError::MissingClaim("exp"))
    ));
}

#[tokio::test]
async fn wrong_audience_and_issuer() {
    let (keys, _server, v) = served(&["ed-1"]).await;
    let aud = keys.sign("ed-1", &claims_with("aud", json!("https://evil.test/mcp")));
    assert!(matches!(v.verify(&aud).await, Err(JwtError::WrongAudience)));
    let aud = keys.sign("ed-1", &claims_with("aud", json!(["a", "b"])));
    assert!(matches!(v.verify(&aud).await, Err(JwtError::WrongAudience)));
    let no_aud = keys.sign("ed-1", &claims_with("aud", json!(null)));
    assert!(matches!(
        v.verify(&no_aud).await,
        Err(JwtError::MissingClaim("aud"))
    ));
    let iss = keys.sign("ed-1", &claims_with("iss", json!("https://idp.test.evil")));
    assert!(matches!(v.verify(&iss).await, Err(JwtError::WrongIssuer)));
}

#[tokio::test]
async fn missing_claims() {
    let (keys, _server, v) = served(&["rsa-1"]).await;
    let no_tenant = keys.sign("rsa-1", &claims_with("tenant", json!(null)));
    let err = v.verify(&no_tenant).await.unwrap_err();
    assert!(matches!(err, JwtError::MissingClaim("tenant")), "{err:?}");
    let no_sub = keys.sign("rsa-1", &claims_with("sub", json!(null)));
    assert!(matches!(
        v.verify(&no_sub).await,
        Err(JwtError::MissingClaim("sub"))
    ));

    let (keys, _server, v) = served_with(&["rsa-1"], |c| c.tenant_claim = "org".into()).await;
    let err = v.verify(&keys.sign("rsa-1", &claims())).await.unwrap_err();
    assert!(matches!(err, JwtError::MissingClaim("org")), "{err:?}");
    assert_eq!(err.description(), "missing or invalid claim: org");
    let c = v
        .verify(&keys.sign("rsa-1", &claims_with("org", json!("o1"))))
        .await
        .unwrap();
    assert_eq!(c.tenant, "o1");
}

#[tokio::test]
async fn alg_none_refused_before_any_key_lookup() {
    let (_keys, server, v) = served(&["rsa-1"]).await;
    let err = v.verify(&unsigned_none(&claims())).await.unwrap_err();
    assert!(
        matches!(&err, JwtError::UnsupportedAlgorithm(a) if a == "none"),
        "{err:?}"
    );
    assert!(!err.is_unavailable());
    assert_eq!(server.fetches(), 0, "no key was looked up");
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let (keys, server, v) = served(&["rsa-1"]).await;
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"});
    for secret in [keys.public_pem("rsa-1").as_bytes(), b"whatever".as_slice()] {
        let token = sign_hs256_with_header(secret, &header, &claims());
        let err = v.verify(&token).await.unwrap_err();
        assert!(
            matches!(&err, JwtError::UnsupportedAlgorithm(a) if a == "HS256"),
            "{err:?}"
        );
    }
    assert_eq!(server.fetches(), 0);
}

#[tokio::test]
async fn header_alg_must_match_the_key_type() {
    let (keys, _server, v) = served(&["rsa-1", "rsa-2", "ec-1", "ed-1"]).await;
    // An RS256 signature by rsa-1, the header claiming ES256.
    let lie = json!({"alg": "ES256", "kid": "rsa-1"});
    let err = v
        .verify(&keys.sign_with_header("rsa-1", &lie, &claims()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, JwtError::UnsupportedAlgorithm(a) if a.starts_with("ES256")),
        "{err:?}"
    );
    let lie = json!({"alg": "RS256", "kid": "ec-1"});
    let err = v
        .verify(&keys.sign_with_header("ec-1", &lie, &claims()))
        .await
        .unwrap_err();
    assert!(matches!(err, JwtError::UnsupportedAlgorithm(_)), "{err:?}");
    let lie = json!({"alg": "EdDSA", "kid": "rsa-2"});
    let err = v
        .verify(&keys.sign_with_header("ed-1", &lie, &claims()))
        .await
        .unwrap_err();
    assert!(matches!(err, JwtError::UnsupportedAlgorithm(_)), "{err:?}");
    // The right type, but another key's signature.
    let other = json!({"alg": "RS256", "kid": "rsa-1"});
    let err = v
        .verify(&keys.sign_with_header("rsa-2", &other, &claims()))
        .await
        .unwrap_err();
    assert!(matches!(err, JwtError::BadSignature), "{err:?}");
}

#[tokio::test]
async fn tampering_and_garbage() {
    let (keys, _server, v) = served(&["rsa-1"]).await;
    let token = keys.sign("rsa-1", &claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = testing::claims(ISS, AUD, "other-tenant", "alice").to_string();
    let forged = base64_url(&forged);
    parts[1] = &forged;
    let err = v.verify(&parts.join(".")).await.unwrap_err();
    assert!(matches!(err, JwtError::BadSignature), "{err:?}");
    for bad in ["", "abc", "a.b.c", "a.b.c.d", &token.replace('.', "..")] {
        let err = v.verify(bad).await.unwrap_err();
        assert!(matches!(err, JwtError::Malformed(_)), "{bad:.20}: {err:?}");
    }
}

#[tokio::test]
async fn only_base64url_without_padding_is_accepted() {
    let (keys, _server, v) = served(&["rsa-1", "ec-1", "ed-1"]).await;
    for kid in ["rsa-1", "ec-1", "ed-1"] {
        let mut names = std::collections::BTreeSet::new();
        // Subjects until every spelling has been tried (a token without
        // `-` or `_` has no standard-alphabet spelling).
        for i in 0..50 {
            let token = keys.sign(kid, &claims_with("sub", json!(format!("alice-{i}"))));
            v.verify(&token)
                .await
                .unwrap_or_else(|e| panic!("{kid}: {e}"));
            for (name, other) in testing::respellings(&token) {
                let err = v.verify(&other).await.unwrap_err();
                assert!(
                    matches!(err, JwtError::Malformed(_)),
                    "{kid} {name}: {err:?}"
                );
                names.insert(name);
            }
            if names.len() == 3 {
                break;
            }
        }
        assert_eq!(names.len(), 3, "{kid}: spellings tried: {names:?}");
    }
}

#[tokio::test]
async fn token_without_kid_uses_the_only_key_for_its_alg() {
    let (keys, _server, v) = served(&["rsa-1", "ec-1"]).await;
    let header = json!({"alg": "ES256", "typ": "JWT"});
    v.verify(&keys.sign_with_header("ec-1", &header, &claims()))
        .await
        .unwrap();
    let (keys, _server, v) = served(&["rsa-1", "rsa-2"]).await;
    let header = json!({"alg": "RS256"});
    let err = v
        .verify(&keys.sign_with_header("rsa-1", &header, &claims()))
        .await
        .unwrap_err();
    assert!(matches!(err, JwtError::UnknownKey(_)), "{err:?}");
}

#[tokio::test]
async fn errors_never_contain_the_token() {
    let (keys, _server, v) = served(&["rsa-1"]).await;
    let now = unix_now();
    let tokens = [
        keys.sign("rsa-1", &claims_with("exp", json!(now - 100))),
        keys.sign("rsa-1", &claims_with("aud", json!("x"))),
        keys.sign_with_header(
            "rsa-1",
            &json!({"alg": "RS256", "kid": "k\"\r\n"}),
            &claims(),
        ),
        unsigned_none(&claims()),
    ];
    for token in tokens {
        let err = v.verify(&token).await.unwrap_err();
        for text in [err.to_string(), err.description(), format!("{err:?}")] {
            assert!(!text.contains(&token) && !text.contains(token.split('.').nth(1).unwrap()));
        }
        for text in [err.to_string(), err.description()] {
            assert!(!text.contains(['"', '\\', '\r', '\n']), "{text}");
        }
    }
}

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
