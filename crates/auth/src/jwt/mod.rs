//! JWT bearer tokens: signature checked against a JWKS (URL or file) or an
//! HS256 secret, then `exp`/`nbf` (with leeway), `iss`, `aud`, `sub` and
//! the tenant claim.
//!
//! The key decides the algorithm: the header's `alg` must be the one of the
//! key its `kid` names (RS256 for RSA, ES256 for P-256, EdDSA for Ed25519);
//! HS256 is only accepted with a configured secret, never with JWKS keys;
//! `none` and every other algorithm are refused before any key is looked
//! up.

mod claims;
mod config;
mod error;
mod keys;
#[cfg(test)]
mod properties;
mod remote;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, Validation};
use parking_lot::Mutex;
use serde_json::{Map, Value};

pub use self::claims::Claims;
pub use self::config::{JwtConfig, MIN_HS256_SECRET};
pub use self::error::JwtError;
pub use crate::AuthConfigError;

use self::claims::{Expect, extract};
use self::error::clean;
use self::keys::{KeyAlg, Lookup, TokenHeader, VerifyKey, find, parse_header, parse_jwks};
use self::remote::RemoteJwks;

/// Where the verification keys come from.
enum Source {
    Secret(DecodingKey),
    File {
        path: PathBuf,
        keys: Arc<[VerifyKey]>,
    },
    Remote(Box<RemoteJwks>),
    Shared(Arc<SharedKeys>),
}

/// A key set its owner replaces while verifiers use it: the keys of
/// Switchboard's own authorization server, which rotates them.
#[derive(Debug, Default)]
pub struct SharedKeys(parking_lot::RwLock<Arc<[VerifyKey]>>);

impl SharedKeys {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace the keys with those of a JWKS document; how many are usable.
    pub fn replace(&self, jwks: &[u8]) -> Result<usize, String> {
        let keys = parse_jwks(jwks)?;
        let n = keys.len();
        *self.0.write() = keys.into();
        Ok(n)
    }

    fn current(&self) -> Arc<[VerifyKey]> {
        self.0.read().clone()
    }
}

/// Verifies the JWTs of one issuer. Cheap to share (`Arc`); `verify` may be
/// called concurrently.
pub struct JwtVerifier {
    expect: Expect,
    leeway_secs: u64,
    tenants: Vec<String>,
    source: Source,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("JwtVerifier");
        d.field("issuer", &self.expect.issuer)
            .field("audience", &self.expect.audience)
            .field("tenant_claim", &self.expect.tenant_claim);
        match &self.source {
            Source::Secret(_) => d.field("hs256_secret", &"<redacted>"),
            Source::File { path, keys } => d.field("jwks_file", path).field("keys", keys),
            Source::Remote(remote) => d.field("jwks_url", &remote.shown()),
            Source::Shared(_) => d.field("keys", &"shared"),
        };
        d.finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// A verifier for `config` (validated here). A `jwks_file` is read now
    /// (an error if unreadable or without a usable key); a `jwks_url` is
    /// fetched on first use.
    pub fn new(config: JwtConfig) -> Result<Self, AuthConfigError> {
        config.validate()?;
        let source = if let Some(secret) = &config.hs256_secret {
            Source::Secret(DecodingKey::from_secret(secret.expose().as_bytes()))
        } else if let Some(path) = &config.jwks_file {
            let body = std::fs::read(path).map_err(|source| AuthConfigError::JwksFileRead {
                path: path.clone(),
                source,
            })?;
            let invalid = |reason: String| AuthConfigError::JwksFileInvalid {
                path: path.clone(),
                reason,
            };
            let keys = parse_jwks(&body).map_err(invalid)?;
            if keys.is_empty() {
                return Err(invalid(
                    "no usable signing key (RSA, P-256 or Ed25519)".into(),
                ));
            }
            Source::File {
                path: path.clone(),
                keys: keys.into(),
            }
        } else {
            let url = config::jwks_url(config.jwks_url.as_deref().unwrap_or_default())?;
            let remote = RemoteJwks::new(
                url,
                Duration::from_millis(config.timeout_ms),
                Duration::from_secs(config.cache_ttl_secs),
                Duration::from_secs(config.refresh_min_interval_secs),
            )
            .map_err(|e| AuthConfigError::jwt("jwks_url", format!("HTTP client: {e}")))?;
            Source::Remote(Box::new(remote))
        };
        Ok(Self {
            expect: Expect {
                tenant_claim: intern(&config.tenant_claim),
                issuer: config.issuer,
                audience: config.audience,
            },
            leeway_secs: config.leeway_secs,
            tenants: config.tenants,
            source,
        })
    }

    /// A verifier of `issuer`'s tokens for `audience`, signed by one of
    /// `keys` (which their owner may replace at any time); the tenant in
    /// the `tenant` claim.
    pub fn with_shared_keys(
        issuer: String,
        audience: Vec<String>,
        leeway_secs: u64,
        keys: Arc<SharedKeys>,
    ) -> Self {
        Self {
            expect: Expect {
                tenant_claim: "tenant",
                issuer,
                audience,
            },
            leeway_secs,
            tenants: Vec::new(),
            source: Source::Shared(keys),
        }
    }

    /// The issuer whose tokens this verifies (`iss`).
    pub fn issuer(&self) -> &str {
        &self.expect.issuer
    }

    /// The tenants this issuer may name (empty: any).
    pub fn tenants(&self) -> &[String] {
        &self.tenants
    }

    /// The accepted audiences.
    pub fn audience(&self) -> &[String] {
        &self.expect.audience
    }

    /// Verify a compact JWT and return who it names. Errors never contain
    /// the token.
    pub async fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let header = parse_header(token)?;
        let key = self.key_for(&header).await?;
        let claims = self.decode(token, &key, header.alg)?;
        extract(&claims, &self.expect)
    }

    /// The key that must have signed a token with this header.
    async fn key_for(&self, header: &TokenHeader) -> Result<DecodingKey, JwtError> {
        let kid = header.kid.as_deref();
        match &self.source {
            Source::Secret(secret) if header.alg == KeyAlg::Hs256 => Ok(secret.clone()),
            Source::Secret(_) => Err(JwtError::UnsupportedAlgorithm(header.alg.name().into())),
            // Never HMAC with a public key.
            _ if header.alg == KeyAlg::Hs256 => {
                Err(JwtError::UnsupportedAlgorithm(header.alg.name().into()))
            }
            Source::File { keys, .. } => resolve(find(keys, header.alg, kid), header),
            Source::Shared(keys) => resolve(find(&keys.current(), header.alg, kid), header),
            Source::Remote(remote) => {
                let (set, fetched_now) = remote.current().await?;
                match find(&set.keys, header.alg, kid) {
                    Lookup::Missing if !fetched_now => match remote.refresh_after_miss(&set).await?
                    {
                        Some(newer) => resolve(find(&newer.keys, header.alg, kid), header),
                        None => resolve(Lookup::Missing, header),
                    },
                    found => resolve(found, header),
                }
            }
        }
    }

    /// Check the signature with exactly `alg`, and `exp` (required) and
    /// `nbf` with the leeway.
    fn decode(
        &self,
        token: &str,
        key: &DecodingKey,
        alg: KeyAlg,
    ) -> Result<Map<String, Value>, JwtError> {
        let mut validation = Validation::new(alg.algorithm());
        validation.algorithms = vec![alg.algorithm()];
        validation.leeway = self.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // `iss` and `aud` are checked by `extract`, strictly.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => JwtError::BadSignature,
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::ImmatureSignature => JwtError::NotYetValid,
                ErrorKind::MissingRequiredClaim(_) => JwtError::MissingClaim("exp"),
                ErrorKind::InvalidClaimFormat(c) if c == "exp" => JwtError::MissingClaim("exp"),
                ErrorKind::InvalidClaimFormat(_) => JwtError::malformed("nbf is not a number"),
                ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
                    JwtError::UnsupportedAlgorithm(alg.name().into())
                }
                ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidEddsaKey
                | ErrorKind::InvalidRsaKey(_)
                | ErrorKind::InvalidKeyFormat => {
                    tracing::warn!(issuer = %self.expect.issuer, "a verification key is invalid");
                    JwtError::BadSignature
                }
                ErrorKind::Base64(_) => JwtError::malformed("a part is not base64url"),
                ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                    JwtError::malformed("payload is not a JSON object")
                }
                _ => JwtError::malformed("invalid token"),
            })
    }
}

/// The key of a lookup, or why there is none.
fn resolve(lookup: Lookup, header: &TokenHeader) -> Result<DecodingKey, JwtError> {
    let kid = || {
        header
            .kid
            .as_deref()
            .map_or_else(|| "(no kid)".to_owned(), clean)
    };
    match lookup {
        Lookup::Found(key) => Ok(key),
        Lookup::WrongAlg => Err(JwtError::UnsupportedAlgorithm(format!(
            "{} with key {}",
            header.alg.name(),
            kid()
        ))),
        Lookup::Missing => Err(JwtError::UnknownKey(kid())),
        Lookup::Ambiguous => Err(JwtError::UnknownKey("(no kid, several keys)".to_owned())),
    }
}

/// The tenant claim's name for [`JwtError::MissingClaim`]: leaked once per
/// distinct name (names come from configuration, so they are few).
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    if name == "tenant" {
        return "tenant";
    }
    let mut names = NAMES.lock();
    if let Some(known) = names.iter().find(|n| **n == name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.push(leaked);
    leaked
}
