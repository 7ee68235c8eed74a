//! A JWKS fetched from a URL: cached for `cache_ttl_secs`, refetched on an
//! unknown `kid` at most once per `refresh_min_interval_secs`.
//!
//! Readers take the current set from a short-lived lock; fetches are
//! serialised by an async mutex, so concurrent misses share one fetch.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::JwtError;
use super::keys::{VerifyKey, parse_jwks};

/// Largest JWKS body accepted.
const MAX_BODY: usize = 1024 * 1024;

/// A set of keys and when it was fetched.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) keys: Arc<[VerifyKey]>,
    fetched_at: Instant,
    generation: u64,
}

/// When fetches were tried (guarded by the fetch mutex).
#[derive(Debug, Default)]
struct Attempts {
    /// The last fetch that failed, if the last fetch failed.
    failed_at: Option<Instant>,
    /// The last refetch caused by an unknown `kid`.
    miss_at: Option<Instant>,
}

pub(crate) struct RemoteJwks {
    url: reqwest::Url,
    /// The URL without credentials or query, for logs.
    shown: String,
    client: reqwest::Client,
    ttl: Duration,
    min_interval: Duration,
    current: RwLock<Option<Snapshot>>,
    attempts: Mutex<Attempts>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &self.shown)
            .field("ttl", &self.ttl)
            .field("min_interval", &self.min_interval)
            .finish_non_exhaustive()
    }
}

impl RemoteJwks {
    pub(crate) fn new(
        url: reqwest::Url,
        timeout: Duration,
        ttl: Duration,
        min_interval: Duration,
    ) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| e.to_string())?;
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        shown.set_query(None);
        Ok(Self {
            shown: shown.to_string(),
            url,
            client,
            ttl,
            min_interval,
            current: RwLock::new(None),
            attempts: Mutex::new(Attempts::default()),
        })
    }

    /// The URL as shown in logs and `Debug`: no credentials, no query.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    fn snapshot(&self) -> Option<Snapshot> {
        self.current.read().clone()
    }

    fn fresh(&self, s: &Snapshot) -> bool {
        s.fetched_at.elapsed() < self.ttl
    }

    /// The current set, fetched first if there is none or it is older than
    /// the TTL. The flag says whether this call fetched it.
    pub(crate) async fn current(&self) -> Result<(Snapshot, bool), JwtError> {
        let stale = match self.snapshot() {
            Some(s) if self.fresh(&s) => return Ok((s, false)),
            other => other,
        };
        // With a stale set at hand, don't wait for somebody else's fetch.
        let mut attempts = match &stale {
            Some(s) => match self.attempts.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok((s.clone(), false)),
            },
            None => self.attempts.lock().await,
        };
        let stale = match self.snapshot() {
            Some(s) if self.fresh(&s) => return Ok((s, false)),
            other => other,
        };
        if let Some(failed) = attempts.failed_at
            && failed.elapsed() < self.min_interval
        {
            return stale.map(|s| (s, false)).ok_or_else(|| {
                JwtError::KeysUnavailable("the last JWKS fetch failed; retrying later".into())
            });
        }
        match self.fetch(&mut attempts).await {
            Ok(s) => Ok((s, true)),
            Err(e) => match stale {
                Some(s) => {
                    tracing::warn!(url = %self.shown, error = %e, "JWKS refetch failed; using the cached keys");
                    Ok((s, false))
                }
                None => Err(e),
            },
        }
    }

    /// After `seen` lacked a token's key: a newer set, if one was fetched
    /// since (by this call or a concurrent one). `None` when refetching is
    /// rate-limited.
    pub(crate) async fn refresh_after_miss(
        &self,
        seen: &Snapshot,
    ) -> Result<Option<Snapshot>, JwtError> {
        let mut attempts = self.attempts.lock().await;
        if let Some(s) = self.snapshot()
            && s.generation != seen.generation
        {
            return Ok(Some(s));
        }
        let recent = |at: Option<Instant>| at.is_some_and(|t| t.elapsed() < self.min_interval);
        if recent(attempts.miss_at) || recent(attempts.failed_at) {
            tracing::debug!(url = %self.shown, "unknown kid; JWKS refetch rate-limited");
            return Ok(None);
        }
        attempts.miss_at = Some(Instant::now());
        tracing::debug!(url = %self.shown, "unknown kid; refetching the JWKS");
        self.fetch(&mut attempts).await.map(Some)
    }

    /// Fetch, parse and install the set (the caller holds the fetch lock).
    async fn fetch(&self, attempts: &mut Attempts) -> Result<Snapshot, JwtError> {
        match self.get().await {
            Ok(keys) => {
                attempts.failed_at = None;
                if keys.is_empty() {
                    tracing::warn!(url = %self.shown, "the JWKS has no usable signing keys");
                }
                let mut current = self.current.write();
                let generation = current.as_ref().map_or(0, |s| s.generation) + 1;
                let snapshot = Snapshot {
                    keys: keys.into(),
                    fetched_at: Instant::now(),
                    generation,
                };
                *current = Some(snapshot.clone());
                Ok(snapshot)
            }
            Err(reason) => {
                attempts.failed_at = Some(Instant::now());
                tracing::warn!(url = %self.shown, error = %reason, "fetching the JWKS failed");
                Err(JwtError::KeysUnavailable(reason))
            }
        }
    }

    /// GET the JWKS: a 2xx answer of at most 1 MiB holding a JWKS.
    async fn get(&self) -> Result<Vec<VerifyKey>, String> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header(
                reqwest::header::ACCEPT,
                "application/json, application/jwk-set+json",
            )
            .send()
            .await
            .map_err(|e| with_causes(&e.without_url()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP status {status}"));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY as u64)
        {
            return Err("JWKS larger than 1 MiB".into());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| with_causes(&e.without_url()))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err("JWKS larger than 1 MiB".into());
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body)
    }
}

/// An error and its chain of causes, `: `-separated (reqwest's own text is
/// only "error sending request"; the cause says why).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
