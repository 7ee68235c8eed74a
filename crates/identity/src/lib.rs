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
//! - **`grant = "authorization_code"`**: each user's own grant, made by
//!   signing in at the upstream's authorization server through
//!   Switchboard's connect pages (code flow with PKCE, [`connect`]; the
//!   server's endpoints configured or discovered), kept in the [`Vault`]
//!   and refreshed.
//!
//! Tokens are cached per caller until shortly before they expire (and
//! never past the caller's own token's expiry); concurrent calls of one
//! caller wait for one exchange. The token endpoint sits behind a circuit
//! breaker and a timeout: an identity provider that is down gives a clear
//! error at once, not a hang. With a [`Vault`] (`[vault]` keys), tokens
//! and grants are kept sealed in the configured store, for every node and
//! across restarts. Nothing here logs or shows a token.

#![warn(missing_docs)]

mod cache;
pub mod challenge;
mod config;
pub mod connect;
mod discover;
pub mod dpop;
mod endpoint;
mod error;
mod kept;
mod register;
mod user;
mod vault;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use switchboard_limits::{Breaker, BreakerConfig};
use switchboard_secret::{ClientToken, Secret};

pub use config::{CALLBACK, CLIENT_METADATA, Grant, UpstreamAuth};
pub use dpop::DpopKey;
pub use error::IdentityError;
pub use user::MAX_STEP_UPS;
pub use vault::{Vault, VaultError, VaultKey};

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

/// What a request to the upstream carries for a caller: the access
/// token, and the DPoP key it is bound to if it is (then each request
/// carries `Authorization: DPoP …` and a fresh proof of that key instead
/// of `Bearer`). `Debug` shows neither.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The access token.
    pub token: Secret,
    /// The key the token is bound to (RFC 9449), if it is.
    pub dpop: Option<Arc<DpopKey>>,
}

impl Credential {
    /// A plain bearer token.
    pub fn bearer(token: Secret) -> Self {
        Self { token, dpop: None }
    }
}

/// How a token was had, for metrics and the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// From the cache.
    Cached,
    /// From the vault (had through another node, or before a restart).
    Kept,
    /// Newly issued by the token endpoint.
    Issued,
}

impl Outcome {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Cached => "cached",
            Outcome::Kept => "kept",
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
    /// Where tokens are kept for other nodes and a restart, and this
    /// credential set's name there.
    vault: Option<(Arc<Vault>, String)>,
    /// The upstream's URL (its protected-resource metadata names its
    /// authorization server).
    upstream_url: Option<String>,
    /// `auth` as configured, nothing discovered.
    configured: Arc<discover::Found>,
    /// What was discovered, once found (found again after a 401).
    discovered: tokio::sync::Mutex<Option<Arc<discover::Found>>>,
    /// Clients registered with authorization servers, by issuer.
    clients: tokio::sync::Mutex<HashMap<String, register::Registered>>,
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
            vault: None,
            upstream_url: None,
            configured: Arc::new(discover::Found::configured(&auth)),
            discovered: tokio::sync::Mutex::new(None),
            clients: tokio::sync::Mutex::new(HashMap::new()),
            auth,
        }
    }

    /// The upstream's URL, for discovering its authorization server.
    pub fn for_url(mut self, url: &str) -> Self {
        self.upstream_url = Some(url.to_owned());
        self
    }

    /// Keep tokens in `vault` too (if any), as the credential set `lane`
    /// (a tenant with its own credentials, or empty for the upstream's):
    /// a token had through one node serves on every node and after a
    /// restart.
    pub fn with_vault(mut self, vault: Option<Arc<Vault>>, lane: &str) -> Self {
        self.vault = vault.map(|v| (v, lane.to_owned()));
        self
    }

    /// Forget the token held for `tenant`'s `subject` (their grant was
    /// revoked): their next call finds no grant and is asked to sign in.
    pub fn forget(&self, tenant: &str, subject: &str) {
        self.cache.forget(&format!("{tenant}\0{subject}"));
    }

    /// Counts of cached, issued and failed tokens.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The token the upstream gets for `who` (with its DPoP key, if it
    /// is bound to one), and whether it was cached.
    pub async fn bearer(&self, who: Who<'_>) -> Result<(Credential, Outcome), IdentityError> {
        let key = self
            .cache_key(who)
            .ok_or_else(|| IdentityError::NoClientToken {
                upstream: self.upstream.clone(),
            })?;
        let subject = match self.auth.grant {
            Grant::TokenExchange => who.token,
            Grant::ClientCredentials | Grant::AuthorizationCode => None,
        };
        let slot = self.cache.slot(&key);
        let mut held = slot.lock().await;
        if let Some(token) = held.as_ref().and_then(cache::Held::fresh) {
            self.stats.cached.fetch_add(1, Ordering::Relaxed);
            return Ok((token, Outcome::Cached));
        }
        if self.auth.grant == Grant::AuthorizationCode {
            let granted = self.granted(who).await?;
            // `granted` holds only a token with time left.
            let token = granted.fresh().ok_or_else(|| IdentityError::Unavailable {
                upstream: self.upstream.clone(),
                reason: "the grant's access token expired as it was read".into(),
            })?;
            *held = Some(granted);
            self.stats.cached.fetch_add(1, Ordering::Relaxed);
            return Ok((token, Outcome::Kept));
        }
        let kept = self.kept(who, subject).await;
        if let Some(token) = kept.as_ref().and_then(cache::Held::fresh) {
            *held = kept;
            self.stats.cached.fetch_add(1, Ordering::Relaxed);
            return Ok((token, Outcome::Kept));
        }
        let issued = self.issue(subject).await?;
        let token = Credential::bearer(issued.token.clone());
        self.keep(who, subject, &issued).await;
        *held = Some(cache::Held::new(issued, subject.map(|t| t.expires_at)));
        self.stats.issued.fetch_add(1, Ordering::Relaxed);
        Ok((token, Outcome::Issued))
    }

    /// Where `who`'s token is held: per tenant for client credentials,
    /// per user for their own grant, per user and token of theirs for an
    /// exchange (`None` without one).
    fn cache_key(&self, who: Who<'_>) -> Option<String> {
        Some(match self.auth.grant {
            Grant::ClientCredentials => format!("tenant\0{}", who.tenant),
            Grant::AuthorizationCode => format!("{}\0{}", who.tenant, who.subject),
            Grant::TokenExchange => format!(
                "{}\0{}\0{}",
                who.tenant,
                who.subject,
                cache::digest(who.token?.token.expose())
            ),
        })
    }

    /// The vault entry of `who`'s token for this upstream.
    fn entry(&self, who: Who<'_>) -> Option<(&Vault, String)> {
        let (vault, lane) = self.vault.as_ref()?;
        let whom = match self.auth.grant {
            Grant::TokenExchange | Grant::AuthorizationCode => who.subject,
            Grant::ClientCredentials => "",
        };
        Some((vault, format!("token\0{}\0{lane}\0{whom}", self.upstream)))
    }

    /// A token kept in the vault for `who`, if it is for the same token of
    /// the caller's and has not expired. A vault that fails is logged and
    /// passed over: it only saves requests to the provider.
    async fn kept(&self, who: Who<'_>, subject: Option<&ClientToken>) -> Option<cache::Held> {
        let (vault, name) = self.entry(who)?;
        let bytes = match vault.get(who.tenant, &name).await {
            Ok(found) => found?,
            Err(e) => {
                tracing::warn!(upstream = %self.upstream, error = %e, "the vault cannot be read");
                return None;
            }
        };
        let record: kept::Kept = serde_json::from_slice(&bytes).ok()?;
        record.held(subject)
    }

    /// Keep `issued` for `who` in the vault.
    async fn keep(&self, who: Who<'_>, subject: Option<&ClientToken>, issued: &Issued) {
        let Some((vault, name)) = self.entry(who) else {
            return;
        };
        let record = kept::Kept::new(issued, subject);
        let Ok(bytes) = serde_json::to_vec(&record) else {
            return;
        };
        if let Err(e) = vault.put(who.tenant, &name, &bytes).await {
            tracing::warn!(upstream = %self.upstream, error = %e, "the vault cannot be written");
        }
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
        let outcome = match self.auth.grant {
            // A service identity's server, found as a sign-in's is.
            Grant::ClientCredentials if self.auth.discovers() => match self.effective().await {
                Ok(found) => self.endpoint.request(&found.auth, subject).await,
                Err(e) => Err(e),
            },
            _ => self.endpoint.request(&self.auth, subject).await,
        };
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
