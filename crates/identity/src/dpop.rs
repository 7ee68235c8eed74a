//! DPoP (RFC 9449) as a client: the P-256 key a grant's tokens are bound
//! to, and the proofs made with it — one per request, fresh `jti`, the
//! request's method and URL, the access token's hash (`ath`) toward a
//! resource server, and the server's nonce once it asked for one.
//!
//! A key is made when a sign-in's code is redeemed at a server that
//! advertises ES256 in `dpop_signing_alg_values_supported`, kept sealed
//! with the grant (so any node, and a refresh, uses the same key), and
//! never shown.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

/// The one signing algorithm used (and the one every DPoP server must
/// support in practice).
pub const ALG: &str = "ES256";

/// Most bytes of a nonce taken from a server (RFC 9449 §8.1 nonces are
/// opaque; this bounds what a server makes us repeat).
const MAX_NONCE: usize = 512;

/// A DPoP key. `Debug` shows only its public thumbprint-free summary.
#[derive(Clone)]
pub struct DpopKey {
    key: SigningKey,
    /// The public key as a JWK (`kty`, `crv`, `x`, `y`), serialised.
    jwk: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopKey(ES256)")
    }
}

impl DpopKey {
    /// A new random key, or `None` without randomness.
    pub fn generate() -> Option<Self> {
        loop {
            let mut d = [0u8; 32];
            getrandom::fill(&mut d).ok()?;
            if let Some(key) = Self::from_scalar(&d) {
                return Some(key);
            }
        }
    }

    /// The key whose private scalar is `d` (32 bytes), if it is one.
    fn from_scalar(d: &[u8]) -> Option<Self> {
        let key = SigningKey::from_slice(d).ok()?;
        let point = key.verifying_key().to_encoded_point(false);
        let jwk = serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x()?),
            "y": URL_SAFE_NO_PAD.encode(point.y()?),
        })
        .to_string();
        Some(Self { key, jwk })
    }

    /// The key as kept (sealed) with its grant: the private scalar,
    /// base64url.
    pub(crate) fn to_stored(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.to_bytes())
    }

    /// A key as kept by [`DpopKey::to_stored`].
    pub(crate) fn from_stored(stored: &str) -> Option<Self> {
        Self::from_scalar(&URL_SAFE_NO_PAD.decode(stored).ok()?)
    }

    /// A proof for one request (RFC 9449 §4.2): `method` and `url` (its
    /// query and fragment left out), the hash of `access_token` when the
    /// request carries one, and `nonce` when the server gave one.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut jti = [0u8; 16];
        // Without randomness the jti is still unique per process (time),
        // and the server refuses a replay rather than accepting one.
        if getrandom::fill(&mut jti).is_err() {
            jti.copy_from_slice(&now.as_nanos().to_be_bytes());
        }
        let mut claims = serde_json::json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": method,
            "htu": htu(url),
            "iat": now.as_secs(),
        });
        if let Some(token) = access_token {
            claims["ath"] = URL_SAFE_NO_PAD
                .encode(Sha256::digest(token.as_bytes()))
                .into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        let header = format!(r#"{{"typ":"dpop+jwt","alg":"{ALG}","jwk":{}}}"#, self.jwk);
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

/// The `htu` of a request to `url`: without its query and fragment
/// (RFC 9449 §4.2).
fn htu(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// A nonce a server gave in its `DPoP-Nonce` header, if usable: visible
/// ASCII (RFC 9449 §8.1's NQCHAR), bounded.
pub fn nonce_of(value: &str) -> Option<&str> {
    let ok = !value.is_empty()
        && value.len() <= MAX_NONCE
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\');
    ok.then_some(value)
}

/// Whether a server's metadata's `dpop_signing_alg_values_supported`
/// offers the algorithm used here.
pub(crate) fn offered(algs: Option<&[String]>) -> bool {
    algs.is_some_and(|a| a.iter().any(|x| x == ALG))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    fn part(jwt: &str, i: usize) -> serde_json::Value {
        let seg = jwt.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
    }

    #[test]
    fn a_proof_is_signed_by_the_key_it_names() {
        let key = DpopKey::generate().unwrap();
        let proof = key.proof(
            "POST",
            "https://mcp.example/mcp?x=1#f",
            Some("tok"),
            Some("n-1"),
        );
        let header = part(&proof, 0);
        let claims = part(&proof, 1);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert!(header["jwk"].get("d").is_none(), "no private part shown");
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://mcp.example/mcp");
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(
            claims["ath"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(b"tok")).as_str()
        );
        // Verified with the public key from the header alone.
        let x = URL_SAFE_NO_PAD
            .decode(header["jwk"]["x"].as_str().unwrap())
            .unwrap();
        let y = URL_SAFE_NO_PAD
            .decode(header["jwk"]["y"].as_str().unwrap())
            .unwrap();
        let point = p256::EncodedPoint::from_affine_coordinates(
            x.as_slice().into(),
            y.as_slice().into(),
            false,
        );
        let public = VerifyingKey::from_encoded_point(&point).unwrap();
        let (input, sig) = proof.rsplit_once('.').unwrap();
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
        public.verify(input.as_bytes(), &sig).unwrap();
        // Each proof is new.
        let again = key.proof("POST", "https://mcp.example/mcp", Some("tok"), None);
        assert_ne!(part(&again, 1)["jti"], claims["jti"]);
        assert!(part(&again, 1).get("nonce").is_none());
    }

    #[test]
    fn a_kept_key_is_the_same_key() {
        let key = DpopKey::generate().unwrap();
        let back = DpopKey::from_stored(&key.to_stored()).unwrap();
        assert_eq!(key.jwk, back.jwk);
        assert!(DpopKey::from_stored("not a key").is_none());
        assert!(DpopKey::from_stored(&URL_SAFE_NO_PAD.encode([0u8; 32])).is_none());
    }

    #[test]
    fn nonces_are_bounded_and_plain() {
        assert_eq!(nonce_of("abc-123_~"), Some("abc-123_~"));
        assert_eq!(nonce_of(""), None);
        assert_eq!(nonce_of("with space"), None);
        assert_eq!(nonce_of("quote\""), None);
        assert_eq!(nonce_of(&"n".repeat(513)), None);
        assert!(offered(Some(&["RS256".into(), "ES256".into()])));
        assert!(!offered(Some(&["RS256".into()])));
        assert!(!offered(None));
    }
}
