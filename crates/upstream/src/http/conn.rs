//! What an HTTP upstream's handle and its tasks share: the client, the
//! session, and what is in flight both ways.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::value::RawValue;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use switchboard_identity::{Credential, DpopKey};
use switchboard_secret::Secret;

use super::h1::H1Pool;
use crate::{Downstream, UpstreamError};

/// What a caller's requests carry: `Authorization: Bearer …`, or
/// `Authorization: DPoP …` with a proof of the token's key made for each
/// request (RFC 9449 §7.1).
#[derive(Clone)]
pub(crate) struct Authorization {
    /// The `Authorization` value (sensitive: never logged).
    pub(crate) header: HeaderValue,
    /// The key and the token, for the proofs, when the token is bound.
    pub(crate) dpop: Option<(Arc<DpopKey>, Secret)>,
}

impl Authorization {
    fn new(credential: &Credential) -> Option<Self> {
        let scheme = if credential.dpop.is_some() {
            "DPoP"
        } else {
            "Bearer"
        };
        let token = credential.token.expose();
        let mut header = HeaderValue::from_str(&format!("{scheme} {token}")).ok()?;
        header.set_sensitive(true);
        let dpop = credential
            .dpop
            .clone()
            .map(|key| (key, credential.token.clone()));
        Some(Self { header, dpop })
    }
}

/// Calls in flight both ways, and why the upstream is gone once it is.
#[derive(Debug, Default)]
struct State {
    /// Our progress token → the caller's original token.
    tokens: HashMap<String, Box<RawValue>>,
    /// Requests from the server being answered, by their id's JSON text.
    inbound: HashMap<String, AbortHandle>,
    closed: Option<UpstreamError>,
}

/// Everything the handle and the tasks of one upstream session share.
pub(crate) struct Conn {
    pub(crate) name: String,
    pub(crate) downstream: Arc<dyn Downstream>,
    pub(crate) max_body_bytes: usize,
    /// Cancelled when the upstream is gone: stops the stream task and calls.
    pub(crate) stop: CancellationToken,
    pub(super) client: reqwest::Client,
    /// Our own HTTP/1.1 connections for POSTs, when the URL is plain
    /// `http://` (see `h1`); otherwise everything goes through `client`.
    pub(super) h1: Option<Arc<H1Pool>>,
    pub(super) url: Url,
    /// The spec's own headers (their values are never logged).
    pub(super) extra: HeaderMap,
    pub(super) session: OnceLock<HeaderValue>,
    pub(super) version: OnceLock<HeaderValue>,
    /// The `Authorization` of the one caller this session is for, when
    /// the upstream's tokens come from an identity provider; renewed
    /// before each call, over the spec's own `Authorization`.
    pub(super) auth: parking_lot::RwLock<Option<Authorization>>,
    /// The resource server's latest DPoP nonce (RFC 9449 §9), sent in
    /// every proof once it gave one.
    pub(super) dpop_nonce: Mutex<Option<String>>,
    state: Mutex<State>,
    next_id: AtomicU64,
}

/// Neither the URL nor the headers are shown: they may hold credentials.
impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("name", &self.name)
            .field("session", &self.session.get().is_some())
            .field("closed", &self.closed())
            .finish_non_exhaustive()
    }
}

impl Conn {
    pub(crate) fn new(
        name: String,
        client: reqwest::Client,
        h1: Option<Arc<H1Pool>>,
        url: Url,
        extra: HeaderMap,
        max_body_bytes: usize,
        downstream: Arc<dyn Downstream>,
    ) -> Self {
        Self {
            name,
            downstream,
            max_body_bytes,
            stop: CancellationToken::new(),
            client,
            h1,
            url,
            extra,
            session: OnceLock::new(),
            version: OnceLock::new(),
            auth: parking_lot::RwLock::new(None),
            dpop_nonce: Mutex::new(None),
            state: Mutex::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// Send `credential` from now on.
    pub(crate) fn set_credential(&self, credential: &Credential) -> Result<(), UpstreamError> {
        let auth = Authorization::new(credential).ok_or_else(|| {
            UpstreamError::Spawn(format!(
                "{}: the identity provider's token is not a header value",
                self.name
            ))
        })?;
        *self.auth.write() = Some(auth);
        Ok(())
    }

    /// A fresh id for a request of ours.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The session id the server gave, if any.
    pub(crate) fn session_id(&self) -> Option<&str> {
        self.session.get().and_then(|v| v.to_str().ok())
    }

    /// Remember the negotiated protocol version (sent from now on).
    pub(crate) fn set_version(&self, version: &str) {
        if let Ok(v) = HeaderValue::from_str(version) {
            let _ = self.version.set(v);
        }
    }

    /// Why calls fail, once the upstream is gone.
    pub(crate) fn closed(&self) -> Option<UpstreamError> {
        self.state.lock().closed.clone()
    }

    /// The upstream is gone (the first cause sticks): requests from the
    /// server are abandoned, the stream task and waiting calls stop.
    pub(crate) fn close(&self, cause: UpstreamError) -> UpstreamError {
        let cause = {
            let mut state = self.state.lock();
            if state.closed.is_none() {
                tracing::info!(upstream = %self.name, "upstream gone: {cause}");
                for (_, task) in state.inbound.drain() {
                    task.abort();
                }
                state.tokens.clear();
                state.closed = Some(cause);
            }
            state.closed.clone().unwrap_or(UpstreamError::Closed)
        };
        self.stop.cancel();
        cause
    }

    /// Map our progress token to the caller's.
    pub(crate) fn add_token(&self, ours: String, original: Box<RawValue>) {
        self.state.lock().tokens.insert(ours, original);
    }

    /// Forget one of our progress tokens.
    pub(crate) fn remove_token(&self, ours: &str) {
        self.state.lock().tokens.remove(ours);
    }

    /// The caller's token behind one of ours.
    pub(crate) fn original_token(&self, ours: &str) -> Option<Box<RawValue>> {
        self.state.lock().tokens.get(ours).cloned()
    }

    /// Track a request from the server unless one with this id is in flight
    /// or `max` are; `start` is called (with the table locked, so the task
    /// cannot finish before it is known) to spawn its task.
    pub(crate) fn add_inbound(
        &self,
        id: &str,
        max: usize,
        start: impl FnOnce() -> AbortHandle,
    ) -> Result<(), &'static str> {
        let mut state = self.state.lock();
        if state.closed.is_some() {
            return Err("the upstream is gone");
        }
        if state.inbound.contains_key(id) {
            return Err("a request reusing an id still in flight");
        }
        if state.inbound.len() >= max {
            return Err("too many requests in flight");
        }
        state.inbound.insert(id.to_owned(), start());
        Ok(())
    }

    /// A request from the server is answered; false if it was cancelled.
    pub(crate) fn finish_inbound(&self, id: &str) -> bool {
        self.state.lock().inbound.remove(id).is_some()
    }

    /// The server cancelled a request it sent: stop answering it.
    pub(crate) fn cancel_inbound(&self, id: &str) -> bool {
        let task = self.state.lock().inbound.remove(id);
        task.map(|t| t.abort()).is_some()
    }
}
