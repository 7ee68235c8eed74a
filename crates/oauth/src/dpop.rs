//! DPoP (RFC 9449): proofs of possession of a client's key, checked at
//! the token endpoint (the tokens issued are then bound to the key's
//! thumbprint, `cnf.jkt`) and at the resource (a bound token is only good
//! with a proof by the same key, for that request, carrying the token's
//! hash).
//!
//! A proof is a JWT signed by the key in its own header (`typ`
//! `dpop+jwt`, an asymmetric `alg`, a public `jwk`), whose claims name the
//! request (`htm`, `htu`), when (`iat`, within a window), a unique `jti`
//! (a replayed one is refused while it is in the window) and, when the
//! server asks for one, its `nonce`. Nonces are made from a key every node
//! shares and the time, so any node accepts what another issued.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::Mutex;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::now;

/// Seconds a proof's `iat` may lie in the past (and a `jti` is kept).
const WINDOW: u64 = 300;
/// Seconds a proof's `iat` may lie in the future (clock skew).
const SKEW: u64 = 60;
/// Seconds one nonce window lasts; a nonce is good in its window and the
/// next.
const NONCE_WINDOW: u64 = 300;
/// Longest proof looked at.
const MAX_PROOF: usize = 8 * 1024;
/// `jti`s kept at most.
const MAX_SEEN: usize = 100_000;

/// The algorithms a proof may be signed with.
pub const ALGORITHMS: [&str; 3] = ["ES256", "RS256", "EdDSA"];

/// Why a proof is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopError {
    /// `invalid_dpop_proof`: what is wrong.
    Invalid(String),
    /// `use_dpop_nonce`: retry with this nonce.
    UseNonce(String),
}

/// What a checked proof is for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The URL, without query or fragment.
    pub url: &'a str,
    /// The access token it must carry the hash of (at a resource).
    pub access_token: Option<&'a str>,
}

/// Checks proofs; remembers the `jti`s seen in the window.
pub(crate) struct Dpop {
    nonce_key: Mutex<Vec<u8>>,
    require_nonce: bool,
    seen: Mutex<HashMap<[u8; 32], u64>>,
}

impl std::fmt::Debug for Dpop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpop")
            .field("require_nonce", &self.require_nonce)
            .finish_non_exhaustive()
    }
}

impl Dpop {
    pub(crate) fn new(require_nonce: bool) -> Self {
        Self {
            nonce_key: Mutex::new(crate::random_bytes::<32>().to_vec()),
            require_nonce,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Use `key` (shared by every node) for nonces.
    pub(crate) fn set_nonce_key(&self, key: &[u8]) {
        *self.nonce_key.lock() = key.to_vec();
    }

    /// A nonce for now.
    pub(crate) fn nonce(&self) -> String {
        self.nonce_at(now() / NONCE_WINDOW)
    }

    fn nonce_at(&self, window: u64) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.nonce_key.lock())
            .expect("HMAC takes any key");
        mac.update(&window.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = window.to_be_bytes().to_vec();
        out.extend_from_slice(&tag[..16]);
        URL_SAFE_NO_PAD.encode(out)
    }

    fn nonce_ok(&self, nonce: &str) -> bool {
        let window = now() / NONCE_WINDOW;
        [window, window.saturating_sub(1)].iter().any(|w| {
            subtle::ConstantTimeEq::ct_eq(self.nonce_at(*w).as_bytes(), nonce.as_bytes()).into()
        })
    }

    /// Check `proof` for `req`: the thumbprint (RFC 7638) of its key.
    pub(crate) fn check(&self, proof: &str, req: Request<'_>) -> Result<String, DpopError> {
        let bad = |why: &str| DpopError::Invalid(why.to_owned());
        if proof.len() > MAX_PROOF {
            return Err(bad("the proof is too long"));
        }
        let (header, jwk, alg) = header(proof)?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad("its jwk is not a usable key"))?;
        let mut v = Validation::new(alg);
        v.algorithms = vec![alg];
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Map<String, Value>>(proof, &key, &v)
            .map_err(|_| bad("its signature does not verify with its jwk"))?
            .claims;
        drop(header);
        let text = |k: &str| claims.get(k).and_then(Value::as_str);
        let jti = text("jti").filter(|j| !j.is_empty() && j.len() <= 256);
        let Some(jti) = jti else {
            return Err(bad("jti is missing"));
        };
        if text("htm") != Some(req.method) {
            return Err(bad("htm is not this request's method"));
        }
        if !text("htu").is_some_and(|u| same_url(u, req.url)) {
            return Err(bad("htu is not this request's URL"));
        }
        let iat = claims
            .get("iat")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("iat is missing"))?;
        let now = now();
        if iat + WINDOW < now || iat > now + SKEW {
            return Err(bad("iat is too old or in the future"));
        }
        if let Some(token) = req.access_token {
            let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
            if text("ath") != Some(ath.as_str()) {
                return Err(bad("ath is not the hash of the access token"));
            }
        }
        match text("nonce") {
            Some(n) if !self.nonce_ok(n) => return Err(DpopError::UseNonce(self.nonce())),
            None if self.require_nonce => return Err(DpopError::UseNonce(self.nonce())),
            _ => {}
        }
        self.first_use(jti, req.url, iat)?;
        jwk.thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| bad("its jwk has no thumbprint"))
    }

    /// Remember `jti` (per URL); an error if it was seen in the window.
    fn first_use(&self, jti: &str, url: &str, iat: u64) -> Result<(), DpopError> {
        let id: [u8; 32] = Sha256::new()
            .chain_update(url.as_bytes())
            .chain_update([0])
            .chain_update(jti.as_bytes())
            .finalize()
            .into();
        let now = now();
        let mut seen = self.seen.lock();
        if seen.len() >= MAX_SEEN {
            seen.retain(|_, until| *until > now);
        }
        if seen.len() >= MAX_SEEN {
            return Err(DpopError::Invalid("too many proofs at once; retry".into()));
        }
        match seen.get(&id) {
            Some(until) if *until > now => {
                Err(DpopError::Invalid("the proof was used before".into()))
            }
            _ => {
                seen.insert(id, iat + WINDOW + SKEW);
                Ok(())
            }
        }
    }
}

/// The proof's header: `typ` `dpop+jwt`, one of our algorithms, a public
/// `jwk` of the algorithm's kind.
fn header(proof: &str) -> Result<(Map<String, Value>, Jwk, Algorithm), DpopError> {
    let bad = |why: &str| DpopError::Invalid(why.to_owned());
    let head = proof.split('.').next().ok_or_else(|| bad("not a JWT"))?;
    let bytes = URL_SAFE_NO_PAD.decode(head).map_err(|_| bad("not a JWT"))?;
    let header: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| bad("its header is not JSON"))?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(bad("typ is not dpop+jwt"));
    }
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("ES256") => Algorithm::ES256,
        Some("RS256") => Algorithm::RS256,
        Some("EdDSA") => Algorithm::EdDSA,
        _ => return Err(bad("alg is not one of ES256, RS256, EdDSA")),
    };
    let raw = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("jwk is missing"))?;
    // A private key in the header is refused (RFC 9449 §4.2).
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|k| raw.contains_key(*k))
    {
        return Err(bad("jwk holds a private key"));
    }
    let kty = raw.get("kty").and_then(Value::as_str);
    let fits = matches!(
        (alg, kty),
        (Algorithm::ES256, Some("EC"))
            | (Algorithm::RS256, Some("RSA"))
            | (Algorithm::EdDSA, Some("OKP"))
    );
    if !fits {
        return Err(bad("the jwk's kty does not fit alg"));
    }
    let jwk: Jwk =
        serde_json::from_value(Value::Object(raw.clone())).map_err(|_| bad("jwk is not a JWK"))?;
    Ok((header, jwk, alg))
}

/// Whether `htu` names `url` (RFC 9449 §4.3: without query and fragment;
/// scheme and host compared case-insensitively).
fn same_url(htu: &str, url: &str) -> bool {
    let norm = |s: &str| {
        url::Url::parse(s).ok().map(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        })
    };
    norm(htu).is_some() && norm(htu) == norm(url)
}
