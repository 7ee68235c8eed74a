//! Test helpers (feature `testing`): the fixture keys of
//! `crates/auth/tests/keys`, minting tokens with them, and [`JwksServer`].
//!
//! The fixture keys are public test keys: never trust them anywhere.
//! Helpers panic on failure, as test helpers do.

mod server;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

pub use self::server::JwksServer;

/// The fixture key ids: two RSA 2048 keys, a P-256 key and an Ed25519 key.
pub const KIDS: [&str; 4] = ["rsa-1", "rsa-2", "ec-1", "ed-1"];

/// A secret of the minimum length, for HS256 tests.
pub const HS256_SECRET: &str = "switchboard-test-secret-0123456789abcdef";

/// Where the fixture keys are.
pub fn keys_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/keys")
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_secs()
}

/// Claims a verifier for `issuer` and `audience` accepts: `sub`, `tenant`,
/// `exp` in five minutes, `iat` now.
pub fn claims(issuer: &str, audience: &str, tenant: &str, subject: &str) -> Value {
    let now = unix_now();
    json!({
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "tenant": tenant,
        "iat": now,
        "exp": now + 300,
    })
}

struct TestKey {
    kid: &'static str,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
    public_pem: String,
}

/// The fixture keys, loaded from `crates/auth/tests/keys`.
pub struct TestKeys {
    keys: Vec<TestKey>,
}

impl std::fmt::Debug for TestKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid).collect();
        f.debug_struct("TestKeys").field("kids", &kids).finish()
    }
}

impl Default for TestKeys {
    fn default() -> Self {
        Self::load()
    }
}

impl TestKeys {
    /// Load every fixture key (private PEM, public PEM and public JWK).
    pub fn load() -> Self {
        let dir = keys_dir();
        let read = |name: String| {
            std::fs::read_to_string(dir.join(&name))
                .unwrap_or_else(|e| panic!("fixture {}: {e}", dir.join(name).display()))
        };
        let keys = KIDS
            .iter()
            .map(|&kid| {
                let pem = read(format!("{kid}.pem"));
                let (alg, encoding) = match &kid[..2] {
                    "rs" => (Algorithm::RS256, EncodingKey::from_rsa_pem(pem.as_bytes())),
                    "ec" => (Algorithm::ES256, EncodingKey::from_ec_pem(pem.as_bytes())),
                    _ => (Algorithm::EdDSA, EncodingKey::from_ed_pem(pem.as_bytes())),
                };
                TestKey {
                    kid,
                    alg,
                    encoding: encoding.unwrap_or_else(|e| panic!("fixture {kid}: {e}")),
                    jwk: serde_json::from_str(&read(format!("{kid}.jwk.json")))
                        .unwrap_or_else(|e| panic!("fixture {kid}.jwk.json: {e}")),
                    public_pem: read(format!("{kid}.pub.pem")),
                }
            })
            .collect();
        Self { keys }
    }

    fn key(&self, kid: &str) -> &TestKey {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .unwrap_or_else(|| panic!("no fixture key {kid:?}; there are {KIDS:?}"))
    }

    /// A JWKS document (JSON text) with the public keys of `which` (kids).
    pub fn jwks_json(&self, which: &[&str]) -> String {
        let keys: Vec<&Value> = which.iter().map(|kid| &self.key(kid).jwk).collect();
        json!({ "keys": keys }).to_string()
    }

    /// The public JWK of `kid`.
    pub fn jwk(&self, kid: &str) -> Value {
        self.key(kid).jwk.clone()
    }

    /// The public key of `kid` as SPKI PEM.
    pub fn public_pem(&self, kid: &str) -> &str {
        &self.key(kid).public_pem
    }

    /// A token for `claims` signed with `kid` (RS256, ES256 or EdDSA by the
    /// key), with `kid` in the header.
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let alg = self.key(kid).alg;
        let header = json!({ "typ": "JWT", "alg": alg_name(alg), "kid": kid });
        self.sign_with_header(kid, &header, claims)
    }

    /// A token with exactly this `header`, signed with `kid` by its own
    /// algorithm whatever the header says (for algorithm-confusion tests).
    pub fn sign_with_header(&self, kid: &str, header: &Value, claims: &Value) -> String {
        let key = self.key(kid);
        sign_raw(header, claims, &key.encoding, key.alg)
    }
}

/// An HS256 token for `claims` signed with `secret`.
pub fn sign_hs256(secret: &[u8], claims: &Value) -> String {
    sign_hs256_with_header(secret, &json!({ "typ": "JWT", "alg": "HS256" }), claims)
}

/// An HS256 signature over exactly this `header` and `claims` (e.g. with a
/// `kid` of a JWKS key, and a public key as the "secret").
pub fn sign_hs256_with_header(secret: &[u8], header: &Value, claims: &Value) -> String {
    sign_raw(
        header,
        claims,
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
}

/// An unsigned token: `alg: none` and an empty signature.
pub fn unsigned_none(claims: &Value) -> String {
    let header = json!({ "typ": "JWT", "alg": "none" });
    format!("{}.{}.", b64_json(&header), b64_json(claims))
}

/// Other spellings of the compact token `token` that decode to the same
/// bytes under a lenient base64 reader (RFC 7515 allows only one: base64url,
/// no padding, no stray bits): the standard alphabet (`+`, `/`; only if the
/// token has a `-` or `_`), `=` padding, and a set trailing bit in the
/// signature's last character. Each comes with its name.
pub fn respellings(token: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if token.contains(['-', '_']) {
        out.push((
            "standard alphabet",
            token.replace('-', "+").replace('_', "/"),
        ));
    }
    let padded: Vec<String> = token
        .split('.')
        .map(|part| format!("{part}{}", "=".repeat((4 - part.len() % 4) % 4)))
        .collect();
    let padded = padded.join(".");
    if padded != token {
        out.push(("padded", padded));
    }
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let signature = token.rsplit('.').next().unwrap_or_default();
    if !signature.len().is_multiple_of(4)
        && let Some(last) = signature.bytes().last()
        && let Some(value) = ALPHABET.iter().position(|&c| c == last)
    {
        // In a part of 2 or 3 characters mod 4, the last character's
        // lowest bit is padding: 0 in the one canonical spelling.
        let stray = char::from(ALPHABET[value ^ 1]);
        out.push((
            "non-canonical trailing bits",
            format!("{}{stray}", &token[..token.len() - 1]),
        ));
    }
    out
}

fn sign_raw(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64_json(header), b64_json(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg)
        .unwrap_or_else(|e| panic!("signing with {alg:?}: {e}"));
    format!("{message}.{signature}")
}

fn b64_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        _ => "HS256",
    }
}
