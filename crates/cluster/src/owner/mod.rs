//! Stateful upstreams on a cluster: a session's `per_session` stdio
//! process lives on one node, its owner, recorded in the shared store
//! (`SessionOwners`) with a lease this node renews while it holds the
//! process. A legacy request that needs such an upstream (a `tools/call`,
//! `prompts/get` or resource read of it) claims the session first:
//!
//! - no owner, or this node: it runs here;
//! - another node under a live lease: the whole HTTP request is forwarded
//!   to that node's `advertise_url` with [`FORWARD_HEADER`] (an HMAC under
//!   a key derived from `sealing_key`, over a timestamp, the session and
//!   the body; accepted within [`FORWARD_WINDOW_MS`]) and the owner's
//!   response is streamed back unchanged;
//! - an owner whose lease lapsed (killed) or was released (drained): this
//!   node takes the session over and answers this one request with a
//!   JSON-RPC error saying the upstream state was reset
//!   ([`UPSTREAM_RESET`]); the retry starts a fresh process here,
//!   initialized with the session's recorded client capabilities.
//!
//! Without a shared store (memory, file) there is no `Owners` and nothing
//! here runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderValue;
use parking_lot::{Mutex, MutexGuard};
use sha2::{Digest, Sha256};
use switchboard_config::{Config, Live};
use switchboard_http::error::TransportError;
use switchboard_proto::ErrorCode;
use switchboard_runtime::Catalog;
use switchboard_store::{Claim, SessionOwners, now_ms};

mod forward;

pub use forward::{Request, Route};

/// The header of a request one node forwards to a session's owner:
/// `<ms since the epoch>.<base64url HMAC-SHA256>`.
pub const FORWARD_HEADER: &str = "x-switchboard-forwarded";

/// How far a forwarded request's timestamp may be from the owner's clock.
pub const FORWARD_WINDOW_MS: u64 = 30_000;

/// The JSON-RPC error code of a request answered with the notice that its
/// session's upstream process was lost and will start afresh.
pub const UPSTREAM_RESET: ErrorCode = ErrorCode(-32010);

/// This node's side of the owner records: claims, forwarding, the lease
/// heartbeat and the release on drain.
#[derive(Debug)]
pub struct Owners {
    store: Arc<dyn SessionOwners>,
    node: String,
    url: String,
    lease: Duration,
    key: [u8; 32],
    /// Sessions this node claimed, and when it last did.
    held: Mutex<HashMap<String, Instant>>,
    http: reqwest::Client,
    /// The providers asked which requests need an owner, and told when a
    /// session's processes end here.
    catalog: Arc<Catalog>,
    /// How long a forwarded request may take (`request_timeout_ms`,
    /// `queue_deadline_ms`).
    config: Live<Config>,
}

impl Owners {
    /// Owners for node `node`, reachable at `url`, forwarding signed under
    /// a key derived from `sealing_key`.
    pub fn new(
        store: Arc<dyn SessionOwners>,
        node: String,
        url: String,
        lease: Duration,
        sealing_key: &[u8],
        catalog: Arc<Catalog>,
        config: Live<Config>,
    ) -> Self {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(sealing_key)
            .expect("HMAC takes any key length");
        mac.update(b"switchboard owner forwarding v1");
        let key = mac.finalize().into_bytes().into();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            // A pooled connection to a host that vanished is found dead.
            .tcp_keepalive(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            store,
            node,
            url,
            lease,
            key,
            held: Mutex::new(HashMap::new()),
            http,
            catalog,
            config,
        }
    }

    fn mac(&self, ts: u64, session: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes any key length");
        mac.update(format!("{ts}\n{session}\n").as_bytes());
        mac.update(&Sha256::digest(body));
        mac
    }

    fn sign(&self, session: &str, body: &[u8]) -> String {
        let ts = now_ms();
        let tag = URL_SAFE_NO_PAD.encode(self.mac(ts, session, body).finalize().into_bytes());
        format!("{ts}.{tag}")
    }

    /// Whether `value` is a fresh signature of this session and body.
    fn verify(&self, value: &HeaderValue, session: &str, body: &[u8]) -> bool {
        let Some((ts, tag)) = value.to_str().ok().and_then(|v| v.split_once('.')) else {
            return false;
        };
        let (Ok(ts), Ok(tag)) = (ts.parse::<u64>(), URL_SAFE_NO_PAD.decode(tag)) else {
            return false;
        };
        if now_ms().abs_diff(ts) > FORWARD_WINDOW_MS {
            return false;
        }
        self.mac(ts, session, body).verify_slice(&tag).is_ok()
    }

    async fn claim(&self, session: &str) -> Result<Claim, TransportError> {
        let claim = self
            .store
            .claim(session, &self.node, &self.url, self.lease)
            .await?;
        if matches!(claim, Claim::New | Claim::Mine | Claim::TookOver { .. }) {
            self.lock().insert(session.to_owned(), Instant::now());
        }
        Ok(claim)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.held.lock()
    }

    /// End this node's `per_session` processes of `session` (owned elsewhere
    /// now, or to start afresh).
    async fn end_processes(&self, session: &str) {
        for p in self.catalog.providers().iter() {
            if p.per_session_state() {
                p.session_ended(session).await;
            }
        }
    }

    /// Renew this node's leases every third of a lease while it still holds
    /// the sessions' processes (or claimed them within a lease); forget the
    /// others. Runs until aborted.
    pub(crate) async fn heartbeat(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.lease / 3);
        loop {
            tick.tick().await;
            let providers = self.catalog.providers();
            let keep: Vec<String> = {
                let mut held = self.lock();
                held.retain(|s, claimed| {
                    claimed.elapsed() < self.lease
                        || providers.iter().any(|p| !p.session_processes(s).is_empty())
                });
                held.keys().cloned().collect()
            };
            if keep.is_empty() {
                continue;
            }
            match self.store.renew(&keep, &self.node, self.lease).await {
                Ok(lost) => {
                    self.lock().retain(|s, _| !lost.contains(s));
                    for s in &lost {
                        // Another node owns it now: its calls go there.
                        self.end_processes(s).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot renew session ownership"),
            }
        }
    }

    /// Drain: end this node's leases now, so the next request of each session
    /// anywhere takes it over at once.
    pub async fn release(&self) {
        let held: Vec<String> = self.lock().drain().map(|(s, _)| s).collect();
        if held.is_empty() {
            return;
        }
        match self.store.release(&held, &self.node).await {
            Ok(()) => tracing::info!(sessions = held.len(), "released session ownership"),
            Err(e) => tracing::warn!(error = %e, "cannot release session ownership"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct NoStore;

    #[async_trait::async_trait]
    impl SessionOwners for NoStore {
        async fn claim(
            &self,
            _: &str,
            _: &str,
            _: &str,
            _: Duration,
        ) -> Result<Claim, switchboard_store::StoreError> {
            Ok(Claim::New)
        }
        async fn renew(
            &self,
            _: &[String],
            _: &str,
            _: Duration,
        ) -> Result<Vec<String>, switchboard_store::StoreError> {
            Ok(Vec::new())
        }
        async fn release(
            &self,
            _: &[String],
            _: &str,
        ) -> Result<(), switchboard_store::StoreError> {
            Ok(())
        }
    }

    fn owners(key: &[u8]) -> Owners {
        let lease = Duration::from_secs(1);
        Owners::new(
            Arc::new(NoStore),
            "n".into(),
            "http://x/mcp".into(),
            lease,
            key,
            Arc::new(Catalog::builder().build().expect("an empty catalog")),
            Live::new(Config::default()),
        )
    }

    #[test]
    fn forwarding_signatures_bind_key_session_body_and_time() {
        let a = owners(&[1; 32]);
        let signed = HeaderValue::from_str(&a.sign("s1", b"body")).unwrap();
        assert!(a.verify(&signed, "s1", b"body"));
        assert!(!a.verify(&signed, "s2", b"body"), "another session");
        assert!(!a.verify(&signed, "s1", b"bodx"), "another body");
        assert!(
            !owners(&[2; 32]).verify(&signed, "s1", b"body"),
            "another key"
        );
        let stale = now_ms() - FORWARD_WINDOW_MS - 1000;
        let tag = URL_SAFE_NO_PAD.encode(a.mac(stale, "s1", b"body").finalize().into_bytes());
        let old = HeaderValue::from_str(&format!("{stale}.{tag}")).unwrap();
        assert!(!a.verify(&old, "s1", b"body"), "too old");
        for junk in ["", "1", "x.y", "1.!!"] {
            assert!(!a.verify(&HeaderValue::from_static(junk), "s1", b"body"));
        }
    }
}
