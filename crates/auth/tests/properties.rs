//! Property tests of JWT verification: no panic and no acceptance for any
//! token text; a token minted for any claims (tenant, subject, scopes,
//! audience in either form) verifies to exactly those claims, with every
//! key kind; and changing any one character of a valid token gets it
//! refused, so a token has one accepted spelling.
//!
//! Case counts are for CI; `PROPTEST_CASES=<n>` runs `n` of each instead
//! (docs/testing.md).

use std::path::PathBuf;
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Value, json};
use switchboard_auth::testing::{HS256_SECRET, KIDS, TestKeys, sign_hs256, unix_now};
use switchboard_auth::{Claims, JwtConfig, JwtVerifier, looks_like_jwt};

const ISS: &str = "https://idp.test";
const AUD: &str = "https://mcp.test/mcp";

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

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
});

static KEYS: LazyLock<TestKeys> = LazyLock::new(TestKeys::load);

fn config() -> JwtConfig {
    JwtConfig {
        issuer: ISS.into(),
        audience: vec!["other".into(), AUD.into()],
        ..JwtConfig::default()
    }
}

/// A verifier of HS256 tokens signed with the fixture secret.
static HS256: LazyLock<JwtVerifier> = LazyLock::new(|| {
    JwtVerifier::new(JwtConfig {
        hs256_secret: Some(HS256_SECRET.into()),
        ..config()
    })
    .expect("valid config")
});

/// A verifier of the fixture keys, read from a JWKS file.
static FILE: LazyLock<JwtVerifier> = LazyLock::new(|| {
    let dir: PathBuf = std::env::temp_dir().join(format!("sb-auth-props-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let path = dir.join("jwks.json");
    std::fs::write(&path, KEYS.jwks_json(&KIDS)).expect("write the JWKS");
    let v = JwtVerifier::new(JwtConfig {
        jwks_file: Some(path),
        ..config()
    })
    .expect("valid config");
    let _ = std::fs::remove_dir_all(&dir);
    v
});

fn verify(v: &JwtVerifier, token: &str) -> Result<Claims, switchboard_auth::JwtError> {
    RUNTIME.block_on(v.verify(token))
}

/// What a minted token says.
#[derive(Debug, Clone)]
struct Minted {
    tenant: String,
    subject: String,
    scopes: Vec<String>,
    claims: Value,
}

fn minted() -> impl Strategy<Value = Minted> {
    (
        "\\PC{1,16}",
        "\\PC{1,16}",
        prop::collection::vec("[!-~]{1,12}", 0..4),
        0..4u8,
        any::<bool>(),
        0u64..100_000,
    )
        .prop_map(|(tenant, subject, scopes, scope_form, aud_array, ttl)| {
            let mut claims = json!({
                "iss": ISS, "sub": subject, "tenant": tenant,
                "aud": if aud_array { json!(["x", AUD]) } else { json!(AUD) },
                "exp": unix_now() + 60 + ttl,
            });
            match scope_form {
                0 => claims["scope"] = json!(scopes.join(" ")),
                1 => claims["scp"] = json!(scopes),
                2 => claims["scp"] = json!(scopes.join("  ")),
                _ if scopes.is_empty() => {}
                _ => claims["scope"] = json!(format!(" {} ", scopes.join("\t"))),
            }
            Minted {
                tenant,
                subject,
                scopes,
                claims,
            }
        })
}

fn check(got: Result<Claims, switchboard_auth::JwtError>, m: &Minted) -> Result<(), TestCaseError> {
    let got = got.map_err(|e| TestCaseError::fail(format!("{e}: {:?}", m.claims)))?;
    prop_assert_eq!(&got.tenant, &m.tenant);
    prop_assert_eq!(&got.subject, &m.subject);
    prop_assert_eq!(&got.scopes, &m.scopes);
    prop_assert_eq!(Some(got.expires_at), m.claims["exp"].as_u64());
    Ok(())
}

/// `token` with its character at `at` replaced by `c`, if that changes it.
fn with_char(token: &str, at: prop::sample::Index, c: char) -> Option<String> {
    let mut chars: Vec<char> = token.chars().collect();
    let i = at.index(chars.len());
    (chars[i] != c).then(|| {
        chars[i] = c;
        chars.into_iter().collect()
    })
}

/// A base64url character, or one of the other alphabet's, or anything.
fn replacement() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".chars().collect::<Vec<_>>()
        ),
        1 => prop::sample::select(vec!['+', '/', '=', '.', ' ']),
        1 => any::<char>(),
    ]
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Any text is refused without a panic, as a JWT or not.
    #[test]
    fn any_text_is_refused(text in "\\PC{0,64}", parts in prop::collection::vec("[A-Za-z0-9_=+/-]{0,24}", 0..5)) {
        for token in [text, parts.join(".")] {
            let _ = looks_like_jwt(&token);
            prop_assert!(verify(&HS256, &token).is_err());
            prop_assert!(verify(&FILE, &token).is_err());
        }
    }

    /// Any header and payload JSON, signed or not: refused or accepted
    /// with the claims as given, never a panic.
    #[test]
    fn any_header_and_payload_never_panic(header in any::<u8>(), payload in "\\PC{0,48}") {
        let alg = ["HS256", "RS256", "none", "ES256", "EdDSA"][header as usize % 5];
        let h = json!({"alg": alg, "kid": KIDS[header as usize % KIDS.len()]});
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!("{}.{}.{}", b64(&h.to_string()), b64(&payload), b64("sig"));
        prop_assert!(verify(&HS256, &token).is_err());
        prop_assert!(verify(&FILE, &token).is_err());
    }

    /// An HS256 token minted for any claims verifies to exactly them.
    #[test]
    fn hs256_claims_round_trip(m in minted()) {
        let token = sign_hs256(HS256_SECRET.as_bytes(), &m.claims);
        check(verify(&HS256, &token), &m)?;
    }

    /// Any one character changed in a valid token: refused.
    #[test]
    fn hs256_one_spelling(m in minted(), at in any::<prop::sample::Index>(), c in replacement()) {
        let token = sign_hs256(HS256_SECRET.as_bytes(), &m.claims);
        if let Some(changed) = with_char(&token, at, c) {
            prop_assert!(verify(&HS256, &changed).is_err(), "{} accepted for {}", changed, token);
        }
        let other_alphabet = token.replace('-', "+").replace('_', "/");
        if other_alphabet != token {
            prop_assert!(verify(&HS256, &other_alphabet).is_err(), "{} accepted", other_alphabet);
        }
    }
}

proptest! {
    // Signing with RSA is slow in a debug build: fewer cases.
    #![proptest_config(cases(256))]

    /// A token minted with any fixture key (RS256, ES256, EdDSA) for any
    /// claims verifies to exactly them; one character changed, refused.
    #[test]
    fn jwks_claims_round_trip_and_one_spelling(
        m in minted(), kid in prop::sample::select(KIDS.to_vec()),
        at in any::<prop::sample::Index>(), c in replacement(),
    ) {
        let token = KEYS.sign(kid, &m.claims);
        check(verify(&FILE, &token), &m)?;
        if let Some(changed) = with_char(&token, at, c) {
            prop_assert!(verify(&FILE, &changed).is_err(), "{} accepted for {}", changed, token);
        }
    }
}
