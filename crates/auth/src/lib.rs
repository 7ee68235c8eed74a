//! Authentication for Switchboard: who a bearer token names.
//!
//! API keys are kept only as SHA-256 digests and compared in constant time;
//! JWTs are verified against keys from a JWKS file or URL (cached, refreshed
//! on an unknown `kid`, rate-limited). Nothing here knows about HTTP routing
//! or tenants' policies: the server maps a verified identity to a tenant.
//!
//! - [`ApiKeys`]: configured keys as digests; [`new_api_key`] makes one.
//! - [`JwtVerifier`]: one issuer's tokens, configured by a [`JwtConfig`].
//! - With the `testing` feature, the `testing` module has fixture keys, token
//!   minting and a JWKS HTTP server for tests (never for production).

#![warn(missing_docs)]

pub mod api_key;
mod error;
pub mod jwt;
#[cfg(feature = "testing")]
pub mod testing;

pub use api_key::{ApiKeyEntry, ApiKeys, digest_hex, new_api_key};
pub use error::AuthConfigError;
pub use jwt::{Claims, JwtConfig, JwtError, JwtVerifier, SharedKeys};

/// Whether `token` has the shape of a compact JWT: three base64url segments
/// separated by `.` (the first two non-empty; the signature may be empty,
/// as in an `alg: none` token, which the verifier then refuses by name).
/// API keys (`sb_…`) never contain a `.`.
pub fn looks_like_jwt(token: &str) -> bool {
    let b64url = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => {
            !h.is_empty() && !p.is_empty() && b64url(h) && b64url(p) && b64url(s)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_jwt;

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("eyJh.eyJz.c2ln"));
        assert!(looks_like_jwt("eyJh.eyJz."));
        assert!(looks_like_jwt("a-_b.C9.x_-"));
        assert!(!looks_like_jwt("sb_abcdefABCDEF-_0123"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt(".b.c"));
        assert!(!looks_like_jwt("a..c"));
        assert!(!looks_like_jwt("a.b=.c"));
        assert!(!looks_like_jwt("a.b.c d"));
        assert!(!looks_like_jwt(""));
    }
}
