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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use switchboard_http::error::TransportError;
use switchboard_http::reply::json_response;
use switchboard_proto::{ErrorCode, RequestId, RpcError, error_json, methods};
use switchboard_runtime::Catalog;
use switchboard_store::{Claim, SessionOwners, now_ms};

use crate::app::App;

/// The header of a request one node forwards to a session's owner:
/// `<ms since the epoch>.<base64url HMAC-SHA256>`.
pub const FORWARD_HEADER: &str = "x-switchboard-forwarded";

/// How far a forwarded request's timestamp may be from the owner's clock.
pub const FORWARD_WINDOW_MS: u64 = 30_000;

/// The JSON-RPC error code of a request answered with the notice that its
/// session's upstream process was lost and will start afresh.
pub const UPSTREAM_RESET: ErrorCode = ErrorCode(-32010);

/// This node's side of the owner records.
#[derive(Debug)]
pub(crate) struct Owners {
    store: Arc<dyn SessionOwners>,
    node: String,
    url: String,
    lease: Duration,
    key: [u8; 32],
    /// Sessions this node claimed, and when it last did.
    held: Mutex<HashMap<String, Instant>>,
    http: reqwest::Client,
}

/// Where a request runs.
pub(crate) enum Route {
    Here,
    /// Answered already (forwarded, or the takeover notice).
    Answered(Response),
}

impl Owners {
    /// Owners for node `node`, reachable at `url`, forwarding signed under
    /// a key derived from `sealing_key`.
    pub(crate) fn new(
        store: Arc<dyn SessionOwners>,
        node: String,
        url: String,
        lease: Duration,
        sealing_key: &[u8],
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

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One legacy request of a session, as `route` needs it.
pub(crate) struct Request<'a> {
    pub(crate) session: &'a str,
    pub(crate) id: &'a RequestId,
    pub(crate) method: &'a str,
    pub(crate) params: Option<&'a RawValue>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a Bytes,
}

/// Decide where `r` runs: here, or answered by forwarding it to the
/// session's owner or with the takeover notice. A forwarding header that
/// does not verify is refused (403) whatever the method.
pub(crate) async fn route(app: &App, r: Request<'_>) -> Result<Route, TransportError> {
    let Some(owners) = app.owners() else {
        return Ok(Route::Here);
    };
    let forwarded = r.headers.get(FORWARD_HEADER);
    if let Some(v) = forwarded
        && !owners.verify(v, r.session, r.body)
    {
        tracing::warn!(session = %switchboard_observe::ids::short(r.session), "refused a forwarded request whose signature does not verify");
        return Err(TransportError::ForgedForward);
    }
    if !needs_owner(app.catalog(), r.method, r.params) {
        return Ok(Route::Here);
    }
    let deadline = Instant::now() + owners.lease + Duration::from_secs(2);
    loop {
        match owners.claim(r.session).await? {
            Claim::New | Claim::Mine => return Ok(Route::Here),
            Claim::TookOver { from } => {
                // A process this node kept from an earlier ownership is stale.
                end_processes(app, r.session).await;
                return Ok(Route::Answered(reset_notice(r.id, &from)));
            }
            // The sender thought this node owned it; the record moved since.
            Claim::Other { .. } if forwarded.is_some() => {
                return Err(TransportError::OwnerUnreachable(
                    "ownership moved while the request was forwarded".into(),
                ));
            }
            Claim::Other { node, url } => match forward(app, owners, &url, &r).await {
                Ok(resp) => return Ok(Route::Answered(resp)),
                // Dead but its lease runs: wait for it to lapse, then take over.
                Err(Forward::Unreachable(e)) if Instant::now() < deadline => {
                    tracing::debug!(owner = %node, error = %e, "session owner unreachable; waiting for its lease");
                    tokio::time::sleep(owners.lease / 10).await;
                }
                // The request may have reached the owner and run there: never
                // sent twice.
                Err(Forward::Unreachable(e) | Forward::Failed(e)) => {
                    return Err(TransportError::OwnerUnreachable(e));
                }
            },
        }
    }
}

/// End this node's `per_session` processes of `session` (owned elsewhere
/// now, or to start afresh).
async fn end_processes(app: &App, session: &str) {
    for p in app.catalog().providers().iter() {
        if p.per_session_state() {
            p.session_ended(session).await;
        }
    }
}

/// Whether the request goes to a provider that keeps a process per session.
fn needs_owner(catalog: &Catalog, method: &str, params: Option<&RawValue>) -> bool {
    let providers = catalog.providers();
    if !providers.iter().any(|p| p.per_session_state()) {
        return false;
    }
    // Params the method's reader refuses name nothing: refused here.
    let Ok(Some(name)) = switchboard_proto::params::named(method, params) else {
        return false;
    };
    providers
        .iter()
        .filter(|p| p.per_session_state())
        .any(|p| match method {
            methods::TOOLS_CALL => p.owns_tool(&name),
            methods::PROMPTS_GET => p.owns_prompt(&name),
            _ => p.owns_resource(&name),
        })
}

/// The answer to the request that found its session's owner gone: the
/// upstream state is lost; a retry runs on a fresh process here.
fn reset_notice(id: &RequestId, from: &str) -> Response {
    let error = RpcError::new(
        UPSTREAM_RESET,
        "the node holding this session's upstream process is gone: its state was lost; \
         a fresh upstream process serves the session from the next request (retry it)",
    )
    .with_data(json!({"reason": "upstream_reset", "previousOwner": from}));
    json_response(StatusCode::OK, error_json(Some(id), &error))
}

/// Headers not carried across a hop. `Host` is: the owner checks the
/// client's (`allowed_hosts`) as if it had been called directly.
fn hop_by_hop(name: &header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "content-length"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "upgrade"
            | "proxy-connection"
            | FORWARD_HEADER
    )
}

/// Why a forward got no answer.
enum Forward {
    /// No connection to the owner: the request did not reach it.
    Unreachable(String),
    /// The request may have reached the owner (sent, then the connection
    /// failed, or no answer in time): not to be sent again.
    Failed(String),
}

/// POST the client's request to the owner at `url` and stream its answer
/// back. The answer's head must come within the longest a request may run
/// there (its queue deadline, its timeout and a margin), so an owner that
/// accepts connections and never answers (stopped, wedged) holds no request
/// forever.
async fn forward(
    app: &App,
    owners: &Owners,
    url: &str,
    r: &Request<'_>,
) -> Result<Response, Forward> {
    let c = app.config();
    let limit =
        c.request_timeout() + Duration::from_millis(c.queue_deadline_ms) + Duration::from_secs(5);
    match tokio::time::timeout(limit, send(owners, url, r)).await {
        Ok(answer) => answer,
        Err(_) => Err(Forward::Failed(format!(
            "the session's owner did not answer within {} s",
            limit.as_secs()
        ))),
    }
}

async fn send(owners: &Owners, url: &str, r: &Request<'_>) -> Result<Response, Forward> {
    let mut req = owners.http.post(url).body(r.body.clone());
    for (name, value) in r.headers {
        if !hop_by_hop(name) {
            req = req.header(name, value);
        }
    }
    req = req.header(FORWARD_HEADER, owners.sign(r.session, r.body));
    let resp = req.send().await.map_err(|e| {
        if e.is_connect() {
            Forward::Unreachable(e.to_string())
        } else {
            Forward::Failed(e.to_string())
        }
    })?;
    let mut out = Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        if !hop_by_hop(name) && name != header::HOST {
            out = out.header(name, value);
        }
    }
    out.body(Body::from_stream(resp.bytes_stream()))
        .map_err(|e| Forward::Failed(e.to_string()))
}

/// Renew this node's leases every third of a lease while it still holds
/// the sessions' processes (or claimed them within a lease); forget the
/// others. Runs until aborted.
pub(crate) async fn heartbeat(app: App) {
    let Some(owners) = app.owners() else {
        return;
    };
    let mut tick = tokio::time::interval(owners.lease / 3);
    loop {
        tick.tick().await;
        let providers = app.catalog().providers();
        let keep: Vec<String> = {
            let mut held = owners.lock();
            held.retain(|s, claimed| {
                claimed.elapsed() < owners.lease
                    || providers.iter().any(|p| !p.session_processes(s).is_empty())
            });
            held.keys().cloned().collect()
        };
        if keep.is_empty() {
            continue;
        }
        match owners.store.renew(&keep, &owners.node, owners.lease).await {
            Ok(lost) => {
                owners.lock().retain(|s, _| !lost.contains(s));
                for s in &lost {
                    // Another node owns it now: its calls go there.
                    end_processes(&app, s).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot renew session ownership"),
        }
    }
}

/// Drain: end this node's leases now, so the next request of each session
/// anywhere takes it over at once.
pub(crate) async fn release(app: &App) {
    let Some(owners) = app.owners() else {
        return;
    };
    let held: Vec<String> = owners.lock().drain().map(|(s, _)| s).collect();
    if held.is_empty() {
        return;
    }
    match owners.store.release(&held, &owners.node).await {
        Ok(()) => tracing::info!(sessions = held.len(), "released session ownership"),
        Err(e) => tracing::warn!(error = %e, "cannot release session ownership"),
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
