//! JWT verifiers without a JWKS URL: an HS256 secret, a JWKS file.

use crate::common;

use common::{AUD, ISS, claims};
use switchboard_auth::testing::{HS256_SECRET, TestKeys, sign_hs256, unsigned_none};
use switchboard_auth::{AuthConfigError, JwtConfig, JwtError, JwtVerifier};

#[tokio::test]
async fn an_hs256_token_has_one_spelling() {
    let v = JwtVerifier::new(JwtConfig {
        issuer: ISS.into(),
        audience: vec![AUD.into()],
        hs256_secret: Some(HS256_SECRET.into()),
        ..JwtConfig::default()
    })
    .unwrap();
    let mut tried = std::collections::BTreeSet::new();
    for i in 0..50 {
        let mut c = claims();
        c["sub"] = serde_json::json!(format!("alice-{i}"));
        let token = sign_hs256(HS256_SECRET.as_bytes(), &c);
        v.verify(&token).await.unwrap();
        for (name, other) in switchboard_auth::testing::respellings(&token) {
            let err = v.verify(&other).await.unwrap_err();
            assert!(matches!(err, JwtError::Malformed(_)), "{name}: {err:?}");
            tried.insert(name);
        }
        if tried.len() == 3 {
            break;
        }
    }
    assert_eq!(tried.len(), 3, "{tried:?}");
}

#[tokio::test]
async fn hs256_secret_verifier() {
    let config = JwtConfig {
        issuer: ISS.into(),
        audience: vec![AUD.into()],
        hs256_secret: Some(HS256_SECRET.into()),
        ..JwtConfig::default()
    };
    let v = JwtVerifier::new(config).unwrap();
    assert!(!format!("{v:?}").contains(HS256_SECRET));
    let c = v
        .verify(&sign_hs256(HS256_SECRET.as_bytes(), &claims()))
        .await
        .unwrap();
    assert_eq!(c.subject, "alice");
    let wrong = sign_hs256(b"another-secret-another-secret-another", &claims());
    assert!(matches!(
        v.verify(&wrong).await,
        Err(JwtError::BadSignature)
    ));
    let keys = TestKeys::load();
    let err = v.verify(&keys.sign("rsa-1", &claims())).await.unwrap_err();
    assert!(
        matches!(&err, JwtError::UnsupportedAlgorithm(a) if a == "RS256"),
        "{err:?}"
    );
    assert!(matches!(
        v.verify(&unsigned_none(&claims())).await,
        Err(JwtError::UnsupportedAlgorithm(_))
    ));
}

#[tokio::test]
async fn jwks_file_source() {
    let keys = TestKeys::load();
    let dir = std::env::temp_dir().join(format!("sb-auth-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jwks.json");
    std::fs::write(&file, keys.jwks_json(&["ed-1"])).unwrap();
    let config = |path: std::path::PathBuf| JwtConfig {
        issuer: ISS.into(),
        audience: vec![AUD.into()],
        jwks_file: Some(path),
        ..JwtConfig::default()
    };
    let v = JwtVerifier::new(config(file.clone())).unwrap();
    v.verify(&keys.sign("ed-1", &claims())).await.unwrap();
    let err = v.verify(&keys.sign("rsa-1", &claims())).await.unwrap_err();
    assert!(
        matches!(&err, JwtError::UnknownKey(k) if k == "rsa-1"),
        "{err:?}"
    );

    let missing = JwtVerifier::new(config(dir.join("nope.json"))).unwrap_err();
    assert!(
        matches!(missing, AuthConfigError::JwksFileRead { .. }),
        "{missing}"
    );
    std::fs::write(&file, "{\"keys\": [{\"kty\": \"oct\", \"k\": \"AAAA\"}]}").unwrap();
    let useless = JwtVerifier::new(config(file.clone())).unwrap_err();
    assert!(
        matches!(useless, AuthConfigError::JwksFileInvalid { .. }),
        "{useless}"
    );
    std::fs::write(&file, "not json").unwrap();
    let invalid = JwtVerifier::new(config(file)).unwrap_err();
    assert!(
        matches!(invalid, AuthConfigError::JwksFileInvalid { .. }),
        "{invalid}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn url_verifier_is_built_outside_a_runtime_and_hides_url_secrets() {
    let config = JwtConfig {
        issuer: ISS.into(),
        audience: vec![AUD.into()],
        jwks_url: Some("http://user:pw@127.0.0.1:9/jwks.json?token=abc".into()),
        ..JwtConfig::default()
    };
    let v = JwtVerifier::new(config).unwrap();
    let debug = format!("{v:?}");
    assert!(debug.contains("http://127.0.0.1:9/jwks.json"), "{debug}");
    assert!(!debug.contains("pw") && !debug.contains("abc"), "{debug}");
    assert_eq!(v.audience(), [AUD]);
    let bad = JwtConfig {
        issuer: String::new(),
        ..JwtConfig::default()
    };
    assert!(matches!(
        JwtVerifier::new(bad),
        Err(AuthConfigError::Jwt {
            field: "issuer",
            ..
        })
    ));
}
