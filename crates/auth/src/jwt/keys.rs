//! Verification keys from a JWKS, and the token header that picks one.
//!
//! The key decides the algorithm: an RSA key only verifies RS256, a P-256
//! key ES256, an Ed25519 key EdDSA. Symmetric (`oct`) keys in a JWKS are
//! never used; HS256 needs a configured secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::error::{JwtError, clean};

/// Longest token looked at, in bytes.
pub(crate) const MAX_TOKEN: usize = 16 * 1024;

/// Smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS: usize = 256;

/// The algorithms accepted, one per kind of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyAlg {
    Hs256,
    Rs256,
    Es256,
    EdDsa,
}

impl KeyAlg {
    /// The algorithm a header's `alg` names, if it is one of ours.
    fn from_header(alg: &str) -> Option<Self> {
        match alg {
            "HS256" => Some(KeyAlg::Hs256),
            "RS256" => Some(KeyAlg::Rs256),
            "ES256" => Some(KeyAlg::Es256),
            "EdDSA" => Some(KeyAlg::EdDsa),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            KeyAlg::Hs256 => "HS256",
            KeyAlg::Rs256 => "RS256",
            KeyAlg::Es256 => "ES256",
            KeyAlg::EdDsa => "EdDSA",
        }
    }

    pub(crate) fn algorithm(self) -> Algorithm {
        match self {
            KeyAlg::Hs256 => Algorithm::HS256,
            KeyAlg::Rs256 => Algorithm::RS256,
            KeyAlg::Es256 => Algorithm::ES256,
            KeyAlg::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// What a token's header asks for.
#[derive(Debug)]
pub(crate) struct TokenHeader {
    pub(crate) alg: KeyAlg,
    pub(crate) kid: Option<String>,
}

/// Read the header of a compact JWS without trusting it: the shape, then
/// `alg` (anything but our four, `none` included, is refused before any key
/// is looked at), then `kid`.
pub(crate) fn parse_header(token: &str) -> Result<TokenHeader, JwtError> {
    if token.len() > MAX_TOKEN {
        return Err(JwtError::malformed("token too long"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::malformed("expected three dot-separated parts"));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(JwtError::malformed("empty header or payload"));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtError::malformed("header is not base64url"))?;
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(JwtError::malformed("header is not a JSON object"));
    };
    let Some(Value::String(alg)) = fields.get("alg") else {
        return Err(JwtError::malformed("header has no alg"));
    };
    let alg = KeyAlg::from_header(alg).ok_or_else(|| JwtError::UnsupportedAlgorithm(clean(alg)))?;
    if fields.contains_key("crit") {
        return Err(JwtError::malformed(
            "unsupported critical header parameters",
        ));
    }
    let kid = match fields.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(JwtError::malformed("kid is not a string")),
    };
    Ok(TokenHeader { alg, kid })
}

/// One usable public key of a JWKS.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: KeyAlg,
    pub(crate) key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}",
            self.kid.as_deref().unwrap_or("-"),
            self.alg.name()
        )
    }
}

/// The usable signing keys of a JWKS document. Keys that are not for
/// signatures, of unsupported types, or malformed are skipped (and logged);
/// a document that is not a JWKS is an error.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<VerifyKey>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let Some(Value::Array(keys)) = doc.get("keys") else {
        return Err("not a JWKS: no \"keys\" array".to_owned());
    };
    let mut out = Vec::with_capacity(keys.len());
    for jwk in keys {
        match parse_jwk(jwk) {
            Ok(Some(key)) => out.push(key),
            Ok(None) => {}
            Err(reason) => {
                let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or("-");
                tracing::warn!(kid = %clean(kid), reason, "skipping a JWKS key");
            }
        }
    }
    Ok(out)
}

/// A key of a JWKS: `Ok(None)` for one that is not ours to use (not for
/// signing, symmetric, or for another algorithm), `Err` for a broken one.
fn parse_jwk(jwk: &Value) -> Result<Option<VerifyKey>, &'static str> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if let Some(u) = jwk.get("use")
        && u.as_str() != Some("sig")
    {
        return Ok(None);
    }
    if let Some(ops) = jwk.get("key_ops") {
        let ops = ops.as_array().ok_or("key_ops is not an array")?;
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Ok(None);
        }
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("kid is not a string"),
    };
    let b64 = |name: &'static str| -> Result<Vec<u8>, &'static str> {
        let v = text(name).ok_or("a key parameter is missing")?;
        URL_SAFE_NO_PAD
            .decode(v)
            .map_err(|_| "a key parameter is not base64url")
    };
    let (alg, key) = match (text("kty"), text("crv")) {
        (Some("RSA"), _) => {
            let n = b64("n")?;
            let e = b64("e")?;
            let modulus = n.iter().skip_while(|b| **b == 0).count();
            if modulus < MIN_RSA_MODULUS {
                return Err("RSA modulus shorter than 2048 bits");
            }
            if e.is_empty() || e.len() > 8 {
                return Err("bad RSA exponent");
            }
            (KeyAlg::Rs256, DecodingKey::from_rsa_raw_components(&n, &e))
        }
        (Some("EC"), Some("P-256")) => {
            let (x, y) = (b64("x")?, b64("y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err("bad P-256 coordinates");
            }
            let point = [&[4u8][..], &x, &y].concat();
            (KeyAlg::Es256, DecodingKey::from_ec_der(&point))
        }
        (Some("OKP"), Some("Ed25519")) => {
            let x = b64("x")?;
            if x.len() != 32 {
                return Err("bad Ed25519 key");
            }
            (KeyAlg::EdDsa, DecodingKey::from_ed_der(&x))
        }
        // oct (never from a JWKS), other curves, other key types.
        _ => return Ok(None),
    };
    // Curve points are checked when a verifier is made: make one now, so a
    // broken key is skipped here rather than failing every token later.
    if alg != KeyAlg::Rs256
        && jsonwebtoken::crypto::verify("AA", b"", &key, alg.algorithm()).is_err()
    {
        return Err("not a valid public key");
    }
    match jwk.get("alg") {
        None => {}
        Some(a) if a.as_str() == Some(alg.name()) => {}
        // Meant for another algorithm (RS384, PS256...): not ours to use.
        Some(_) => return Ok(None),
    }
    Ok(Some(VerifyKey { kid, alg, key }))
}

/// The result of looking a token's key up in a set.
#[derive(Debug)]
pub(crate) enum Lookup {
    Found(DecodingKey),
    /// The `kid` exists, but for another algorithm than the header's.
    WrongAlg,
    /// No key with the `kid` (or, without a kid, none for the algorithm).
    Missing,
    /// No `kid`, and several keys fit the algorithm.
    Ambiguous,
}

/// The key for a token with header algorithm `alg` and `kid`.
pub(crate) fn find(keys: &[VerifyKey], alg: KeyAlg, kid: Option<&str>) -> Lookup {
    match kid {
        Some(kid) => {
            let mut named = keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .peekable();
            if named.peek().is_none() {
                return Lookup::Missing;
            }
            named
                .find(|k| k.alg == alg)
                .map_or(Lookup::WrongAlg, |k| Lookup::Found(k.key.clone()))
        }
        None => {
            let mut fit = keys.iter().filter(|k| k.alg == alg);
            match (fit.next(), fit.next()) {
                (Some(only), None) => Lookup::Found(only.key.clone()),
                (None, _) => Lookup::Missing,
                (Some(_), Some(_)) => Lookup::Ambiguous,
            }
        }
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
