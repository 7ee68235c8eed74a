//! Node-local live state: per-session streams, waiting server-to-client
//! requests and running handlers. Durable state lives in the store; this is
//! what cannot leave the process.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use switchboard_http::Frame;
use switchboard_proto::RequestId;
use switchboard_store::{EventId, EventLog, StoreError, now_ms};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
struct SlotState {
    conn: Option<mpsc::Sender<Frame>>,
    finished: bool,
    last_seq: u64,
}

/// One logical SSE stream of a session: every event is appended to the
/// session's event log, then sent to the connection attached to it, if any.
/// A connection can detach (client gone, slow reader, early close) and
/// another attach later with `Last-Event-ID`; the lock makes replay and live
/// delivery exactly-once and in order.
#[derive(Debug, Default)]
pub(crate) struct StreamSlot {
    state: tokio::sync::Mutex<SlotState>,
    /// Fed from the log at another node's word ([`StreamSlot::follow`]),
    /// not written here.
    follower: bool,
    /// Fed with what other nodes logged (`StreamSlot::deliver`), never
    /// written here: a standalone stream on a cluster. Set once, under the
    /// state's lock; read without it by the notifier.
    fed: AtomicBool,
}

impl StreamSlot {
    /// A slot with a connection already attached.
    pub(crate) fn with_conn(tx: mpsc::Sender<Frame>) -> Self {
        Self {
            state: tokio::sync::Mutex::new(SlotState {
                conn: Some(tx),
                ..SlotState::default()
            }),
            follower: false,
            fed: AtomicBool::new(false),
        }
    }

    /// A slot that follows a stream another node writes.
    pub(crate) fn follower() -> Self {
        Self {
            follower: true,
            ..Self::default()
        }
    }

    pub(crate) fn is_follower(&self) -> bool {
        self.follower
    }

    /// Whether other nodes' logging feeds this stream (see `fed`).
    pub(crate) fn is_fed(&self) -> bool {
        self.fed.load(Ordering::Relaxed)
    }

    /// Log an event and deliver it to the attached connection; returns
    /// whether a connection took it. A connection whose buffer is full is
    /// cut off: its client resumes from the log.
    pub(crate) async fn emit(
        &self,
        log: &dyn EventLog,
        session: &str,
        stream: u64,
        data: Arc<str>,
    ) -> Result<bool, StoreError> {
        let mut st = self.state.lock().await;
        let id = log.append(session, stream, data.clone()).await?;
        st.last_seq = id.seq;
        let sent = match &st.conn {
            Some(tx) => tx.try_send(Frame { id: Some(id), data }).is_ok(),
            None => false,
        };
        if !sent {
            st.conn = None;
        }
        Ok(sent)
    }

    /// Follow a stream another node writes: a connection fed from the log,
    /// first with what follows `after`, then at each [`StreamSlot::pull`].
    /// Also returns whether the stream is already over (its response seen).
    pub(crate) async fn follow(
        &self,
        log: &dyn EventLog,
        session: &str,
        after: EventId,
        buffer: usize,
    ) -> Result<(mpsc::Receiver<Frame>, bool), StoreError> {
        let mut st = self.state.lock().await;
        let events = log.read_after(session, after).await?;
        let (tx, rx) = mpsc::channel(buffer + events.len());
        st.last_seq = after.seq;
        st.conn = Some(tx);
        let over = forward(&mut st, events);
        Ok((rx, over))
    }

    /// Send the follower what the log holds past what it was sent; `end`:
    /// the writer says the stream is over. Returns whether the following
    /// is over (the stream ended, or the follower went away).
    pub(crate) async fn pull(
        &self,
        log: &dyn EventLog,
        session: &str,
        stream: u64,
        end: bool,
    ) -> Result<bool, StoreError> {
        let mut st = self.state.lock().await;
        if st.finished {
            return Ok(true);
        }
        if st.conn.is_none() {
            return Ok(false); // not attached yet
        }
        let after = EventId {
            stream,
            seq: st.last_seq,
        };
        let events = log.read_after(session, after).await?;
        let over = forward(&mut st, events) || end;
        if over {
            st.finished = true;
            st.conn = None;
        }
        Ok(over)
    }

    /// No more events will come; the connection ends after what it has.
    pub(crate) async fn finish(&self) {
        let mut st = self.state.lock().await;
        st.finished = true;
        st.conn = None;
    }

    /// Drop the connection (the client resumes later).
    pub(crate) async fn detach(&self) {
        self.state.lock().await.conn = None;
    }

    /// Attach a fresh connection after replaying the events that follow `after`.
    pub(crate) async fn resume(
        &self,
        log: &dyn EventLog,
        session: &str,
        after: EventId,
        buffer: usize,
    ) -> Result<mpsc::Receiver<Frame>, StoreError> {
        let mut st = self.state.lock().await;
        let (tx, rx) = replay_channel(log, session, after, buffer).await?;
        if !st.finished {
            st.conn = Some(tx);
        }
        Ok(rx)
    }

    /// Whether a connection that is still open is attached and takes
    /// events logged here (not fed from what other nodes log).
    pub(crate) async fn takes_local_events(&self) -> bool {
        let st = self.state.lock().await;
        !self.is_fed() && st.conn.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// Attach a fresh connection to a fed stream at the log's end, unless
    /// a live one is attached (`None` then); returns the sequence number it
    /// starts after (for priming).
    pub(crate) async fn attach_fed(
        &self,
        log: &dyn EventLog,
        session: &str,
        buffer: usize,
    ) -> Result<Option<(mpsc::Receiver<Frame>, u64)>, StoreError> {
        let mut st = self.state.lock().await;
        if st.conn.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(None);
        }
        let last = log.last_seq(session, STANDALONE).await?;
        let (tx, rx) = mpsc::channel(buffer);
        st.conn = Some(tx);
        st.last_seq = last;
        self.fed.store(true, Ordering::Relaxed);
        Ok(Some((rx, last)))
    }

    /// Attach a connection to a fed stream after replaying the events that
    /// follow `after`; later deliveries continue from the last one replayed.
    pub(crate) async fn resume_fed(
        &self,
        log: &dyn EventLog,
        session: &str,
        after: EventId,
        buffer: usize,
    ) -> Result<mpsc::Receiver<Frame>, StoreError> {
        let mut st = self.state.lock().await;
        let events = log.read_after(session, after).await?;
        let (tx, rx) = mpsc::channel(buffer + events.len());
        st.last_seq = after.seq;
        st.conn = Some(tx);
        self.fed.store(true, Ordering::Relaxed);
        send_logged(&mut st, events);
        Ok(rx)
    }

    /// Send event `seq` of a fed stream, which its producer logged as
    /// `data`, to the connection attached here: nothing if it was sent
    /// already; the log's events in between first if some were missed (an
    /// announcement lost or overtaken). Each event goes out once, in the
    /// log's order.
    pub(crate) async fn deliver(
        &self,
        log: &dyn EventLog,
        session: &str,
        seq: u64,
        data: Arc<str>,
    ) -> Result<(), StoreError> {
        let mut st = self.state.lock().await;
        if !self.is_fed() || st.conn.is_none() || seq <= st.last_seq {
            return Ok(());
        }
        let id = EventId {
            stream: STANDALONE,
            seq,
        };
        if seq == st.last_seq + 1 {
            send_logged(&mut st, vec![switchboard_store::StoredEvent { id, data }]);
            return Ok(());
        }
        send_missed(&mut st, log, session).await
    }

    /// Send a fed stream's connection what the log holds past the last
    /// event it sent (after announcements may have been missed).
    pub(crate) async fn catch_up(
        &self,
        log: &dyn EventLog,
        session: &str,
    ) -> Result<(), StoreError> {
        let mut st = self.state.lock().await;
        if !self.is_fed() || st.conn.is_none() {
            return Ok(());
        }
        send_missed(&mut st, log, session).await
    }

    /// Attach a connection unless a live one is attached (`None` then);
    /// returns the last sequence number sent on this stream (for priming).
    pub(crate) async fn attach_exclusive(
        &self,
        buffer: usize,
    ) -> Option<(mpsc::Receiver<Frame>, u64)> {
        let mut st = self.state.lock().await;
        if st.conn.as_ref().is_some_and(|c| !c.is_closed()) {
            return None;
        }
        let (tx, rx) = mpsc::channel(buffer);
        st.conn = Some(tx);
        Some((rx, st.last_seq))
    }
}

/// Send logged events to a follower's connection; true (and the following
/// is finished) once the stream's response went by (a request stream ends
/// with it) or the follower is gone.
fn forward(st: &mut SlotState, events: Vec<switchboard_store::StoredEvent>) -> bool {
    let Some(tx) = st.conn.clone() else {
        return st.finished;
    };
    for e in events {
        st.last_seq = e.id.seq;
        let response = is_response(&e.data);
        let frame = Frame {
            id: Some(e.id),
            data: e.data,
        };
        if tx.try_send(frame).is_err() || response {
            st.finished = true;
            st.conn = None;
            return true;
        }
    }
    false
}

/// Send a fed stream's connection the logged events past the last one sent.
async fn send_missed(
    st: &mut SlotState,
    log: &dyn EventLog,
    session: &str,
) -> Result<(), StoreError> {
    let after = EventId {
        stream: STANDALONE,
        seq: st.last_seq,
    };
    let events = log.read_after(session, after).await?;
    send_logged(st, events);
    Ok(())
}

/// Send logged events past the last one sent to the attached connection;
/// a connection that cannot take one is dropped (its client resumes).
fn send_logged(st: &mut SlotState, events: Vec<switchboard_store::StoredEvent>) {
    for e in events {
        if e.id.seq <= st.last_seq {
            continue;
        }
        let Some(tx) = &st.conn else {
            return;
        };
        let frame = Frame {
            id: Some(e.id),
            data: e.data,
        };
        if tx.try_send(frame).is_err() {
            st.conn = None;
            return;
        }
        st.last_seq = e.id.seq;
    }
}

/// Whether an event is a JSON-RPC response (the last event of a request stream).
fn is_response(data: &str) -> bool {
    matches!(
        switchboard_proto::parse_message(data.as_bytes()),
        Ok(switchboard_proto::Message::Response { .. })
    )
}

/// A channel pre-filled with the logged events after `after`.
pub(crate) async fn replay_channel(
    log: &dyn EventLog,
    session: &str,
    after: EventId,
    buffer: usize,
) -> Result<(mpsc::Sender<Frame>, mpsc::Receiver<Frame>), StoreError> {
    let events = log.read_after(session, after).await?;
    let (tx, rx) = mpsc::channel(buffer + events.len());
    for e in events {
        let _ = tx.try_send(Frame {
            id: Some(e.id),
            data: e.data,
        });
    }
    Ok((tx, rx))
}

/// A client's answer to a server-to-client request: its result or its error.
pub(crate) type Answer = Result<Box<RawValue>, Box<RawValue>>;

/// The live part of one session on this node.
#[derive(Debug)]
pub(crate) struct LiveSession {
    pub(crate) id: Arc<str>,
    streams: Mutex<HashMap<u64, Arc<StreamSlot>>>,
    pending: Mutex<HashMap<RequestId, oneshot::Sender<Answer>>>,
    running: Mutex<HashMap<RequestId, CancellationToken>>,
    subscriptions: Mutex<HashSet<String>>,
    /// Server events the standalone stream has yet to get (`notifier`).
    pub(crate) outbox: crate::notifier::Outbox,
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
    /// SSE responses of this session open right now (POST and GET).
    pub(crate) open_streams: Arc<std::sync::atomic::AtomicUsize>,
    /// Cancelled when the session ends: every stream and handler stops.
    pub(crate) closed: CancellationToken,
    /// Catalog requests started on this node so far (admin API).
    requests: AtomicU64,
    /// Of those, requests running now.
    in_flight: std::sync::atomic::AtomicUsize,
}

/// The id of the standalone (GET) stream of every session.
pub(crate) const STANDALONE: u64 = 0;

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
    pub(crate) fn new(id: &str) -> Self {
        Self {
            id: Arc::from(id),
            streams: Mutex::default(),
            pending: Mutex::default(),
            running: Mutex::default(),
            subscriptions: Mutex::default(),
            outbox: crate::notifier::Outbox::default(),
            next_stream: AtomicU64::new(stream_base()),
            next_request: AtomicU64::new(stream_base()),
            last_store_touch_ms: AtomicU64::new(now_ms()),
            owner: std::sync::OnceLock::new(),
            charged: std::sync::atomic::AtomicUsize::new(0),
            created: std::time::Instant::now(),
            open_streams: Arc::default(),
            closed: CancellationToken::new(),
            requests: AtomicU64::new(0),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub(crate) fn new_stream(&self, slot: Arc<StreamSlot>) -> u64 {
        let id = self.next_stream.fetch_add(1, Ordering::Relaxed);
        lock(&self.streams).insert(id, slot);
        id
    }

    /// Register a slot under a number another node gave (a follower).
    pub(crate) fn add_stream(&self, id: u64, slot: Arc<StreamSlot>) {
        lock(&self.streams).insert(id, slot);
    }

    pub(crate) fn stream(&self, id: u64) -> Option<Arc<StreamSlot>> {
        lock(&self.streams).get(&id).cloned()
    }

    /// Every stream of the session on this node, by number.
    pub(crate) fn streams(&self) -> Vec<(u64, Arc<StreamSlot>)> {
        lock(&self.streams)
            .iter()
            .map(|(id, slot)| (*id, slot.clone()))
            .collect()
    }

    pub(crate) fn standalone(&self) -> Arc<StreamSlot> {
        lock(&self.streams).entry(STANDALONE).or_default().clone()
    }

    /// The standalone stream, if a client ever opened it.
    pub(crate) fn standalone_if_open(&self) -> Option<Arc<StreamSlot>> {
        self.stream(STANDALONE)
    }

    /// Catalog requests started so far, and those running now.
    pub(crate) fn request_counts(&self) -> (u64, usize) {
        (
            self.requests.load(Ordering::Relaxed),
            self.in_flight.load(Ordering::Relaxed),
        )
    }

    /// When the session was last used on this node (to the second), unix ms.
    pub(crate) fn last_seen_ms(&self) -> u64 {
        self.last_store_touch_ms.load(Ordering::Relaxed)
    }

    /// How long this node has known the session.
    pub(crate) fn age(&self) -> std::time::Duration {
        self.created.elapsed()
    }

    pub(crate) fn set_owner(&self, identity: &str, tenant: &Arc<str>) {
        let _ = self.owner.set((identity.to_owned(), tenant.clone()));
    }

    /// The identity and tenant that opened the session on this node.
    pub(crate) fn owner(&self) -> Option<(&str, &str)> {
        self.owner.get().map(|(i, t)| (i.as_str(), &**t))
    }

    /// The record bytes this node counts for the session.
    pub(crate) fn charged(&self) -> usize {
        self.charged.load(Ordering::Relaxed)
    }

    /// Count `bytes` for the session from now on; returns what was counted.
    pub(crate) fn swap_charged(&self, bytes: usize) -> usize {
        self.charged.swap(bytes, Ordering::Relaxed)
    }

    /// Mirror the record's resource subscriptions (for event fan-out).
    pub(crate) fn set_subscriptions(&self, uris: &[String]) {
        *lock(&self.subscriptions) = uris.iter().cloned().collect();
    }

    pub(crate) fn is_subscribed(&self, uri: &str) -> bool {
        lock(&self.subscriptions).contains(uri)
    }

    /// The resources the session is subscribed to (as mirrored here).
    pub(crate) fn subscriptions(&self) -> Vec<String> {
        lock(&self.subscriptions).iter().cloned().collect()
    }

    pub(crate) fn has_subscriptions(&self) -> bool {
        !lock(&self.subscriptions).is_empty()
    }

    pub(crate) fn remove_stream(&self, id: u64) {
        lock(&self.streams).remove(&id);
    }

    /// Register a server-to-client request and get where its answer lands.
    pub(crate) fn expect_answer(&self) -> (RequestId, oneshot::Receiver<Answer>) {
        let id = RequestId::from_u64(self.next_request.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        (id, rx)
    }

    pub(crate) fn forget_answer(&self, id: &RequestId) {
        lock(&self.pending).remove(id);
    }

    /// Route a client's response to the handler waiting for it; gives the
    /// answer back when no handler here waits for that id.
    pub(crate) fn answer(&self, id: &RequestId, outcome: Answer) -> Result<(), Answer> {
        match lock(&self.pending).remove(id) {
            Some(tx) => {
                let _ = tx.send(outcome);
                Ok(())
            }
            None => Err(outcome),
        }
    }

    /// Track a running request so `notifications/cancelled` can reach it;
    /// it is forgotten when the returned guard drops (even on a panic).
    pub(crate) fn start<'a>(&'a self, id: &RequestId) -> (CancellationToken, Running<'a>) {
        let token = self.closed.child_token();
        lock(&self.running).insert(id.clone(), token.clone());
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

    pub(crate) fn cancel(&self, id: &RequestId) -> bool {
        match lock(&self.running).get(id) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    /// Whether the store's `last_seen` should be refreshed now (at most once a second).
    pub(crate) fn should_touch_store(&self, now: u64) -> bool {
        let last = self.last_store_touch_ms.load(Ordering::Relaxed);
        now.saturating_sub(last) >= 1000
            && self
                .last_store_touch_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// End everything this session holds on this node.
    pub(crate) fn close(&self) {
        self.closed.cancel();
        lock(&self.pending).clear();
        lock(&self.running).clear();
        lock(&self.streams).clear();
    }
}

/// A running request's entry in its session; removed on drop.
#[derive(Debug)]
pub(crate) struct Running<'a> {
    live: &'a LiveSession,
    id: RequestId,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        lock(&self.live.running).remove(&self.id);
        self.live.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every live session on this node.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    map: papaya::HashMap<Arc<str>, Arc<LiveSession>>,
}

impl Registry {
    /// The live part of a session, created (and set up by `init`) if this
    /// node has not seen the session yet.
    pub(crate) fn get_or_create(
        &self,
        id: &str,
        init: impl FnOnce(&LiveSession),
    ) -> Arc<LiveSession> {
        let map = self.map.pin();
        if let Some(s) = map.get(id) {
            return s.clone();
        }
        map.get_or_insert_with(Arc::from(id), || {
            let live = LiveSession::new(id);
            init(&live);
            Arc::new(live)
        })
        .clone()
    }

    /// The live part of a session, if this node holds one.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<LiveSession>> {
        self.map.pin().get(id).cloned()
    }

    /// Call `f` on every live session on this node (without collecting
    /// them first).
    pub(crate) fn each(&self, mut f: impl FnMut(&Arc<LiveSession>)) {
        for live in self.map.pin().values() {
            f(live);
        }
    }

    /// Every live session on this node.
    pub(crate) fn all(&self) -> Vec<Arc<LiveSession>> {
        self.map.pin().values().cloned().collect()
    }

    pub(crate) fn remove(&self, id: &str) -> Option<Arc<LiveSession>> {
        self.map.pin().remove(id).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A follower gets each event once, in order, however many times it is
    /// told to pull (announcements repeat and cross), and stops after the
    /// response.
    #[tokio::test]
    async fn a_follower_sends_each_logged_event_once() {
        use switchboard_store::MemoryEventLog;
        let log = MemoryEventLog::default();
        let note = |i: u32| {
            Arc::<str>::from(format!(
                r#"{{"jsonrpc":"2.0","method":"n","params":{{"i":{i}}}}}"#
            ))
        };
        for i in 1..=3 {
            log.append("s", 7, note(i)).await.unwrap();
        }
        let slot = StreamSlot::follower();
        let after = EventId { stream: 7, seq: 1 };
        let (mut rx, over) = slot.follow(&log, "s", after, 16).await.unwrap();
        assert!(!over);
        assert!(
            !slot.pull(&log, "s", 7, false).await.unwrap(),
            "nothing new yet"
        );
        log.append("s", 7, note(4)).await.unwrap();
        for _ in 0..3 {
            assert!(!slot.pull(&log, "s", 7, false).await.unwrap());
        }
        let response = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        log.append("s", 7, response.into()).await.unwrap();
        assert!(
            slot.pull(&log, "s", 7, false).await.unwrap(),
            "the response ends it"
        );
        assert!(slot.pull(&log, "s", 7, false).await.unwrap());
        let mut seqs = Vec::new();
        while let Some(f) = rx.recv().await {
            seqs.push(f.id.map(|i| i.seq).unwrap_or(0));
        }
        assert_eq!(seqs, [2, 3, 4, 5]);
    }

    /// A fed standalone stream sends each logged event once, in the log's
    /// order, whatever order its announcements come in and however often.
    #[tokio::test]
    async fn a_fed_stream_sends_each_event_once_in_log_order() {
        use switchboard_store::MemoryEventLog;
        let log = MemoryEventLog::default();
        let data = |i: u64| Arc::<str>::from(format!("e{i}"));
        for i in 1..=3 {
            log.append("s", STANDALONE, data(i)).await.unwrap();
        }
        let slot = StreamSlot::default();
        let (mut rx, last) = slot.attach_fed(&log, "s", 16).await.unwrap().unwrap();
        assert_eq!(last, 3, "a fresh stream starts at the log's end");
        assert!(slot.attach_fed(&log, "s", 16).await.unwrap().is_none());
        assert!(!slot.takes_local_events().await);
        for i in 4..=7 {
            log.append("s", STANDALONE, data(i)).await.unwrap();
        }
        // 5 overtakes 4 (a gap: read from the log), then repeats and 4.
        for seq in [5, 4, 5, 2, 6, 7, 7] {
            slot.deliver(&log, "s", seq, data(seq)).await.unwrap();
        }
        let mut got = Vec::new();
        while let Ok(f) = rx.try_recv() {
            got.push((f.id.map(|i| i.seq), f.data.to_string()));
        }
        let want: Vec<_> = (4..=7).map(|i| (Some(i), format!("e{i}"))).collect();
        assert_eq!(got, want);

        // A resume elsewhere: the replay, then only what follows it.
        let other = StreamSlot::default();
        let after = EventId {
            stream: STANDALONE,
            seq: 5,
        };
        let mut rx = other.resume_fed(&log, "s", after, 16).await.unwrap();
        log.append("s", STANDALONE, data(8)).await.unwrap();
        for seq in [6, 8, 7, 8] {
            other.deliver(&log, "s", seq, data(seq)).await.unwrap();
        }
        let mut seqs = Vec::new();
        while let Ok(f) = rx.try_recv() {
            seqs.push(f.id.map_or(0, |i| i.seq));
        }
        assert_eq!(seqs, [6, 7, 8]);
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
