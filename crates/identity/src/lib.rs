//! Upstream identity: the bearer token an HTTP upstream gets for a caller,
//! instead of the gateway's one static credential and never the caller's
//! own token.
//!
//! An upstream with `[upstreams.auth]` gets, per call:
//!
//! - **`grant = "token_exchange"`** (RFC 8693): the caller's own JWT is
//!   exchanged at the identity provider's token endpoint for a token whose
//!   audience is the upstream (`audience`, `resource`, `scopes`, and an
//!   optional `actor_token` for delegation). Only JWT-authenticated
//!   callers have a token to exchange.
//! - **`grant = "client_credentials"`** (RFC 6749 §4.4): a service identity
//!   per tenant (its own `client_id` and `client_secret` in
//!   `[upstreams.tenants.<id>]`, or the upstream's).
//!
//! Tokens are cached per caller until shortly before they expire (and
//! never past the caller's own token's expiry); concurrent calls of one
//! caller wait for one exchange. The token endpoint sits behind a circuit
//! breaker and a timeout: an identity provider that is down gives a clear
//! error at once, not a hang. Nothing here logs or shows a token.

#![warn(missing_docs)]

mod cache;
mod config;
mod endpoint;
mod error;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use switchboard_limits::{Breaker, BreakerConfig};
use switchboard_secret::{ClientToken, Secret};

pub use config::{Grant, UpstreamAuth};
pub use error::IdentityError;

use cache::Cache;
use endpoint::{Endpoint, Issued};

/// Who a token is wanted for.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// The caller's tenant.
    pub tenant: &'a str,
    /// The caller within its tenant.
    pub subject: &'a str,
    /// The JWT the caller authenticated with, if it did with one.
    pub token: Option<&'a ClientToken>,
}

/// How a token was had, for metrics and the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// From the cache.
    Cached,
    /// Newly issued by the token endpoint.
    Issued,
}

impl Outcome {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Cached => "cached",
            Outcome::Issued => "issued",
        }
    }
}

/// Counts since start.
#[derive(Debug, Default)]
pub struct Stats {
    /// Tokens served from the cache.
    pub cached: AtomicU64,
    /// Tokens issued by the token endpoint.
    pub issued: AtomicU64,
    /// Requests to the token endpoint that failed or were refused.
    pub failed: AtomicU64,
}

/// The tokens one upstream gets, for one credential set.
#[derive(Debug)]
pub struct Identity {
    upstream: String,
    auth: UpstreamAuth,
    endpoint: Endpoint,
    cache: Cache,
    breaker: Breaker,
    stats: Arc<Stats>,
}

impl Identity {
    /// Tokens for `upstream` as `auth` says (validated).
    pub fn new(upstream: &str, auth: UpstreamAuth) -> Self {
        let breaker = Breaker::new(BreakerConfig {
            failures: auth.breaker_failures.max(1),
            cool_down: Duration::from_secs(auth.breaker_cool_down_secs),
            ..BreakerConfig::default()
        });
        Self {
            upstream: upstream.to_owned(),
            endpoint: Endpoint::new(&auth),
            cache: Cache::default(),
            breaker,
            stats: Arc::default(),
            auth,
        }
    }

    /// Counts of cached, issued and failed tokens.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The bearer token the upstream gets for `who`, and whether it was
    /// cached.
    pub async fn bearer(&self, who: Who<'_>) -> Result<(Secret, Outcome), IdentityError> {
        let (key, subject) = match self.auth.grant {
            Grant::ClientCredentials => (format!("tenant\0{}", who.tenant), None),
            Grant::TokenExchange => {
                let token = who.token.ok_or_else(|| IdentityError::NoClientToken {
                    upstream: self.upstream.clone(),
                })?;
                let key = format!(
                    "{}\0{}\0{}",
                    who.tenant,
                    who.subject,
                    cache::digest(token.token.expose())
                );
                (key, Some(token))
            }
        };
        let slot = self.cache.slot(&key);
        let mut held = slot.lock().await;
        if let Some(token) = held.as_ref().and_then(cache::Held::fresh) {
            self.stats.cached.fetch_add(1, Ordering::Relaxed);
            return Ok((token, Outcome::Cached));
        }
        let issued = self.issue(subject).await?;
        let token = issued.token.clone();
        *held = Some(cache::Held::new(issued, subject.map(|t| t.expires_at)));
        self.stats.issued.fetch_add(1, Ordering::Relaxed);
        Ok((token, Outcome::Issued))
    }

    /// A new token from the endpoint, behind the breaker.
    async fn issue(&self, subject: Option<&ClientToken>) -> Result<Issued, IdentityError> {
        let attempt = self.breaker.attempt().map_err(|wait| {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            IdentityError::CircuitOpen {
                upstream: self.upstream.clone(),
                retry_secs: wait.as_secs().max(1),
            }
        })?;
        let outcome = self.endpoint.request(&self.auth, subject).await;
        match &outcome {
            Ok(_) | Err(IdentityError::Refused { .. }) => attempt.success(),
            Err(_) => attempt.failure(),
        }
        if let Err(e) = &outcome {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(upstream = %self.upstream, error = %e, "no upstream token");
        }
        outcome.map_err(|e| e.for_upstream(&self.upstream))
    }
}
