//! The live part of one session on this node ([`LiveSession`]): its
//! streams, the server-to-client requests waiting for an answer, the
//! requests running, its mirrored subscriptions, its outbox of server
//! events, and its place in this node's quotas.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_proto::RequestId;
use switchboard_store::{SessionRecord, now_ms};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::outbox::Outbox;
use crate::slot::{STANDALONE, StreamSlot};

/// A client's answer to a server-to-client request: its result or its error.
pub type Answer = Result<Box<RawValue>, Box<RawValue>>;

/// The live part of one session on this node.
#[derive(Debug)]
pub struct LiveSession {
    /// The session id.
    pub id: Arc<str>,
    streams: Mutex<HashMap<u64, Arc<StreamSlot>>>,
    pending: Mutex<HashMap<RequestId, oneshot::Sender<Answer>>>,
    running: Mutex<HashMap<RequestId, CancellationToken>>,
    subscriptions: Mutex<HashSet<String>>,
    /// Server events the standalone stream has yet to get (`notifier`).
    pub outbox: Outbox,
    next_stream: AtomicU64,
    next_request: AtomicU64,
    last_store_touch_ms: AtomicU64,
    /// Who opened the session on this node, and their tenant (for the
    /// per-identity and per-tenant caps).
    owner: std::sync::OnceLock<(String, Arc<str>)>,
    /// The bytes of the session's record counted against its owner's
    /// budget on this node (`max_session_bytes_per_identity`).
    charged: std::sync::atomic::AtomicUsize,
    created: std::time::Instant,
    /// Until when (milliseconds after `created`) the last refusal at
    /// arrival asked the session's client to wait (`Retry-After`).
    refused_until_ms: AtomicU64,
    /// SSE responses of this session open right now (POST and GET).
    pub open_streams: Arc<std::sync::atomic::AtomicUsize>,
    /// Cancelled when the session ends: every stream and handler stops.
    pub closed: CancellationToken,
    /// Catalog requests started on this node so far (admin API).
    requests: AtomicU64,
    /// Of those, requests running now.
    in_flight: std::sync::atomic::AtomicUsize,
    /// Whether this node has seen the session's `notifications/initialized`
    /// (or loaded it initialized).
    greeted: std::sync::atomic::AtomicBool,
    /// Whether the session lives only while its one stream here is open
    /// ([`SessionRecord::tethered`]): this node renews it at each sweep.
    tethered: std::sync::atomic::AtomicBool,
    /// The client's declared capabilities as last read from the record,
    /// with the text they were read from (see [`LiveSession::capabilities`]).
    capabilities: Mutex<Option<ReadCapabilities>>,
}

/// A record's capabilities as read, and the text they were read from.
#[derive(Debug)]
struct ReadCapabilities {
    text: Box<RawValue>,
    value: Option<Arc<Value>>,
}

/// Where this node starts numbering a session's request streams (and its
/// server-to-client requests, so that an answer names one node's request): a random
/// 32-bit base shifted past a 2^20 counter. With several nodes serving one
/// session (a shared store), each numbers its streams in its own range, so
/// two nodes do not write one stream's event log; two ranges coincide with
/// probability 2^-32 per pair of nodes. Numbers stay below 2^53 (exact in
/// JSON numbers, and in clients that parse event ids as doubles).
fn stream_base() -> u64 {
    let mut b = [0u8; 4];
    if getrandom::fill(&mut b).is_err() {
        return 1;
    }
    (u64::from(u32::from_le_bytes(b)) << 20) | 1
}

impl LiveSession {
    /// The live part of session `id`, new on this node.
    pub fn new(id: &str) -> Self {
        Self {
            id: Arc::from(id),
            streams: Mutex::default(),
            pending: Mutex::default(),
            running: Mutex::default(),
            subscriptions: Mutex::default(),
            outbox: Outbox::default(),
            next_stream: AtomicU64::new(stream_base()),
            next_request: AtomicU64::new(stream_base()),
            last_store_touch_ms: AtomicU64::new(now_ms()),
            owner: std::sync::OnceLock::new(),
            charged: std::sync::atomic::AtomicUsize::new(0),
            created: std::time::Instant::now(),
            refused_until_ms: AtomicU64::new(0),
            open_streams: Arc::default(),
            closed: CancellationToken::new(),
            requests: AtomicU64::new(0),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            greeted: std::sync::atomic::AtomicBool::new(false),
            tethered: std::sync::atomic::AtomicBool::new(false),
            capabilities: Mutex::default(),
        }
    }

    /// The client's declared capabilities in `record` (this session's),
    /// read once and shared by the session's requests here while the
    /// record says the same (it changes only at `initialize`: on the
    /// 2024-11-05 transport the record exists before it). `None` if they
    /// cannot be read.
    pub fn capabilities(&self, record: &SessionRecord) -> Option<Arc<Value>> {
        let text = &record.client_capabilities;
        let mut read = self.capabilities.lock();
        match &*read {
            Some(r) if r.text.get() == text.get() => r.value.clone(),
            _ => {
                let value = serde_json::from_str(text.get()).ok().map(Arc::new);
                *read = Some(ReadCapabilities {
                    text: text.clone(),
                    value: value.clone(),
                });
                value
            }
        }
    }

    /// Mark the session as tethered to this node ([`SessionRecord::tethered`]).
    pub fn tether(&self) {
        self.tethered.store(true, Ordering::Relaxed);
    }

    /// Whether the session is tethered to this node.
    pub fn is_tethered(&self) -> bool {
        self.tethered.load(Ordering::Relaxed)
    }

    /// Register a request stream under this node's next number.
    pub fn new_stream(&self, slot: Arc<StreamSlot>) -> u64 {
        let id = self.next_stream.fetch_add(1, Ordering::Relaxed);
        self.streams.lock().insert(id, slot);
        id
    }

    /// Register a slot under a number another node gave (a follower).
    pub fn add_stream(&self, id: u64, slot: Arc<StreamSlot>) {
        self.streams.lock().insert(id, slot);
    }

    /// The stream numbered `id`, if this node holds it.
    pub fn stream(&self, id: u64) -> Option<Arc<StreamSlot>> {
        self.streams.lock().get(&id).cloned()
    }

    /// Every stream of the session on this node, by number.
    pub fn streams(&self) -> Vec<(u64, Arc<StreamSlot>)> {
        self.streams
            .lock()
            .iter()
            .map(|(id, slot)| (*id, slot.clone()))
            .collect()
    }

    /// The standalone (GET) stream, opened if it was not.
    pub fn standalone(&self) -> Arc<StreamSlot> {
        self.streams.lock().entry(STANDALONE).or_default().clone()
    }

    /// The standalone stream, if a client ever opened it.
    pub fn standalone_if_open(&self) -> Option<Arc<StreamSlot>> {
        self.stream(STANDALONE)
    }

    /// Catalog requests started so far, and those running now.
    pub fn request_counts(&self) -> (u64, usize) {
        (
            self.requests.load(Ordering::Relaxed),
            self.in_flight.load(Ordering::Relaxed),
        )
    }

    /// When the session was last used on this node (to the second), unix ms.
    pub fn last_seen_ms(&self) -> u64 {
        self.last_store_touch_ms.load(Ordering::Relaxed)
    }

    /// How long this node has known the session.
    pub fn age(&self) -> std::time::Duration {
        self.created.elapsed()
    }

    /// A request of this session is refused at arrival, and its client is
    /// told to wait `wait` (`Retry-After`): how long to hold the refusal
    /// before sending it. A client that comes back before the last
    /// refusal's wait is over has its refusal held until then (at most
    /// `wait`), so a client that does not wait is refused about once per
    /// `wait` per connection, not as fast as it can ask; one that waits is
    /// refused at once. The new wait runs from when the refusal is sent.
    pub fn refusal_hold(&self, wait: std::time::Duration) -> std::time::Duration {
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let hold = self.refusal_hold_at(ms(self.created.elapsed()), ms(wait));
        std::time::Duration::from_millis(hold)
    }

    /// [`LiveSession::refusal_hold`] at `now` (milliseconds after
    /// `created`), all in milliseconds.
    fn refusal_hold_at(&self, now: u64, wait: u64) -> u64 {
        let mut hold = 0;
        let _ = self
            .refused_until_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |until| {
                hold = until.saturating_sub(now).min(wait);
                Some(now.saturating_add(hold).saturating_add(wait))
            });
        hold
    }

    /// Who opened the session on this node (set once).
    pub fn set_owner(&self, identity: &str, tenant: &Arc<str>) {
        let _ = self.owner.set((identity.to_owned(), tenant.clone()));
    }

    /// The identity and tenant that opened the session on this node.
    pub fn owner(&self) -> Option<(&str, &str)> {
        self.owner.get().map(|(i, t)| (i.as_str(), &**t))
    }

    /// The record bytes this node counts for the session.
    pub fn charged(&self) -> usize {
        self.charged.load(Ordering::Relaxed)
    }

    /// Count `bytes` for the session from now on; returns what was counted.
    pub fn swap_charged(&self, bytes: usize) -> usize {
        self.charged.swap(bytes, Ordering::Relaxed)
    }

    /// Mirror the record's resource subscriptions (for event fan-out).
    pub fn set_subscriptions(&self, uris: &[String]) {
        *self.subscriptions.lock() = uris.iter().cloned().collect();
    }

    /// Whether the session is subscribed to `uri` (as mirrored here).
    pub fn is_subscribed(&self, uri: &str) -> bool {
        self.subscriptions.lock().contains(uri)
    }

    /// The resources the session is subscribed to (as mirrored here).
    pub fn subscriptions(&self) -> Vec<String> {
        self.subscriptions.lock().iter().cloned().collect()
    }

    /// Whether the session is subscribed to any resource.
    pub fn has_subscriptions(&self) -> bool {
        !self.subscriptions.lock().is_empty()
    }

    /// Forget the stream numbered `id`.
    pub fn remove_stream(&self, id: u64) {
        self.streams.lock().remove(&id);
    }

    /// Register a server-to-client request and get where its answer lands.
    pub fn expect_answer(&self) -> (RequestId, oneshot::Receiver<Answer>) {
        let id = RequestId::from_u64(self.next_request.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id.clone(), tx);
        (id, rx)
    }

    /// Stop waiting for the answer to request `id`.
    pub fn forget_answer(&self, id: &RequestId) {
        self.pending.lock().remove(id);
    }

    /// Route a client's response to the handler waiting for it; gives the
    /// answer back when no handler here waits for that id.
    pub fn answer(&self, id: &RequestId, outcome: Answer) -> Result<(), Answer> {
        match self.pending.lock().remove(id) {
            Some(tx) => {
                let _ = tx.send(outcome);
                Ok(())
            }
            None => Err(outcome),
        }
    }

    /// Track a running request so `notifications/cancelled` can reach it;
    /// it is forgotten when the returned guard drops (even on a panic).
    pub fn start<'a>(&'a self, id: &RequestId) -> (CancellationToken, Running<'a>) {
        let token = self.closed.child_token();
        self.running.lock().insert(id.clone(), token.clone());
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        (
            token,
            Running {
                live: self,
                id: id.clone(),
            },
        )
    }

    /// Cancel the running request `id`; whether it runs here.
    pub fn cancel(&self, id: &RequestId) -> bool {
        match self.running.lock().get(id) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    /// Note that the client sent `notifications/initialized` (or that the
    /// session was loaded initialized).
    pub fn greet(&self) {
        self.greeted.store(true, Ordering::Relaxed);
    }

    /// Whether a handler of this session, or the session itself, may be
    /// waiting for the client's next message: a server-to-client request
    /// is unanswered (its answer comes in a POST), a request runs (a
    /// cancellation may come), or `notifications/initialized` has not come
    /// yet. Such a session's messages are never shed at arrival.
    pub fn expects_client(&self) -> bool {
        !self.greeted.load(Ordering::Relaxed)
            || self.in_flight.load(Ordering::Relaxed) > 0
            || !self.pending.lock().is_empty()
    }

    /// Whether the store's `last_seen` should be refreshed now (at most once a second).
    pub fn should_touch_store(&self, now: u64) -> bool {
        let last = self.last_store_touch_ms.load(Ordering::Relaxed);
        now.saturating_sub(last) >= 1000
            && self
                .last_store_touch_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// End everything this session holds on this node.
    pub fn close(&self) {
        self.closed.cancel();
        self.pending.lock().clear();
        self.running.lock().clear();
        self.streams.lock().clear();
    }
}

/// A running request's entry in its session; removed on drop.
#[derive(Debug)]
pub struct Running<'a> {
    live: &'a LiveSession,
    id: RequestId,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.live.running.lock().remove(&self.id);
        self.live.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(capabilities: &str) -> SessionRecord {
        let raw = |t: &str| RawValue::from_string(t.to_owned()).unwrap();
        SessionRecord::new("s".into(), "2025-11-25", raw(capabilities), raw("{}"), None)
    }

    /// The capabilities a request sees are the record's: read once while
    /// the record says the same, read again when it changes (the
    /// 2024-11-05 transport's `initialize` fills in a record made before).
    #[test]
    fn capabilities_follow_the_record() {
        let live = LiveSession::new("s");
        let placeholder = record("{}");
        let first = live.capabilities(&placeholder).unwrap();
        assert_eq!(*first, serde_json::json!({}));
        let again = live.capabilities(&placeholder).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "read once, shared");
        let declared = record(r#"{"sampling":{},"roots":{"listChanged":true}}"#);
        let now = live.capabilities(&declared).unwrap();
        assert_eq!(now["roots"]["listChanged"], true);
        assert!(now.get("sampling").is_some());
        assert!(Arc::ptr_eq(&now, &live.capabilities(&declared).unwrap()));
    }

    /// A client that waits out its refusal's `Retry-After` is refused at
    /// once; one that comes back sooner is held until the wait is over,
    /// at most one wait, and each refusal's wait runs from when it is sent.
    #[test]
    fn a_refusal_is_held_while_the_last_ones_wait_is_not_over() {
        let live = LiveSession::new("s");
        assert_eq!(live.refusal_hold_at(10, 1000), 0, "the first is not held");
        // Told to wait until 1,010; back at 1,500: not held.
        assert_eq!(live.refusal_hold_at(1500, 1000), 0);
        // Back at once (told to wait until 2,500): held until 2,500.
        assert_eq!(live.refusal_hold_at(1510, 1000), 990);
        // That refusal goes out at 2,500, asking to wait until 3,500; two
        // more at once are each held at most one wait.
        assert_eq!(live.refusal_hold_at(1520, 1000), 1000);
        assert_eq!(live.refusal_hold_at(1530, 1000), 1000);
        // Waited out (the last said 2,530 + 1,000): refused at once.
        assert_eq!(live.refusal_hold_at(3600, 1000), 0);
    }

    /// Two nodes serving one session number its request streams in
    /// different ranges, and each node's numbers still count up.
    #[test]
    fn nodes_number_streams_apart() {
        let (a, b) = (LiveSession::new("s"), LiveSession::new("s"));
        let a1 = a.new_stream(Arc::default());
        let a2 = a.new_stream(Arc::default());
        let b1 = b.new_stream(Arc::default());
        assert_eq!(a2, a1 + 1);
        assert_ne!(a1 >> 20, b1 >> 20, "{a1} and {b1} share a range");
        for n in [a1, a2, b1] {
            assert!(n != STANDALONE && n < (1 << 53), "{n}");
        }
    }
}
