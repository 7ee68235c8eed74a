//! Per-session, per-stream SSE event logs for resumption (`Last-Event-ID`).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::session::StoreError;

/// The stream number of every session's standalone (GET) stream; request
/// streams have the others.
pub const STANDALONE_STREAM: u64 = 0;

/// An SSE event id: the stream it was sent on and its place in that stream.
/// Written as `<stream>-<seq>`; sequence 0 is the priming event, which carries
/// no data and is never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    /// The stream (0: the standalone stream of a session).
    pub stream: u64,
    /// Its place on that stream, from 1 (0: the priming event).
    pub seq: u64,
}

impl EventId {
    /// Read an id as `Display` writes it (no sign, no leading zeros: one
    /// spelling per id); surrounding whitespace is ignored.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (stream, seq) = s.split_once('-')?;
        let id = Self {
            stream: stream.parse().ok()?,
            seq: seq.parse().ok()?,
        };
        (id.to_string() == s).then_some(id)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.stream, self.seq)
    }
}

/// One logged event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Where it was sent.
    pub id: EventId,
    /// The SSE event's data (a JSON-RPC message).
    pub data: Arc<str>,
}

/// The event log of every session. `append` must have made the event durable
/// (for this backend's meaning of durable) before it returns, because the
/// event may be sent to the client right after.
#[async_trait]
pub trait EventLog: Send + Sync + fmt::Debug + 'static {
    /// Append an event to a stream of a session and return its id.
    async fn append(
        &self,
        session: &str,
        stream: u64,
        data: Arc<str>,
    ) -> Result<EventId, StoreError>;
    /// Events of `after.stream` with a sequence above `after.seq`, in order.
    async fn read_after(
        &self,
        session: &str,
        after: EventId,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// Forget a session's events (and its standalone-stream registration).
    async fn drop_session(&self, session: &str) -> Result<(), StoreError>;

    /// Record that request stream `stream` of `session` answers the request
    /// whose id is `id` (its JSON text): a node following the stream can
    /// then answer the request itself if the node writing it dies. Backends
    /// of one node keep nothing (nobody follows there).
    async fn note_request(
        &self,
        _session: &str,
        _stream: u64,
        _id: &str,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// What [`EventLog::note_request`] recorded for `stream`, if anything.
    async fn request_of(&self, _session: &str, _stream: u64) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
    /// Bytes of event data held (for metrics).
    fn bytes(&self) -> usize;

    /// Record that `session` has a standalone (GET) stream, so the node
    /// producing a server event logs it for the session even while no node
    /// holds the stream. Lasts until the session ends (`drop_session`), not
    /// as long as a node or a connection. Only a cluster needs it: a single
    /// node's backends keep nothing (the default).
    async fn register_standalone(&self, _session: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// The live sessions registered with [`EventLog::register_standalone`].
    async fn standalone_sessions(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    /// The sequence number of the last event logged on `stream` of
    /// `session` (0 if none): where a fresh connection starts.
    async fn last_seq(&self, session: &str, stream: u64) -> Result<u64, StoreError> {
        let all = self.read_after(session, EventId { stream, seq: 0 }).await?;
        Ok(all.last().map_or(0, |e| e.id.seq))
    }
}

#[derive(Debug, Default)]
struct SessionLog {
    events: VecDeque<StoredEvent>,
    next_seq: HashMap<u64, u64>,
    bytes: usize,
}

/// Event logs held in memory, bounded per session by event count and bytes:
/// when full, the oldest events are dropped first.
#[derive(Debug)]
pub struct MemoryEventLog {
    logs: papaya::HashMap<String, Arc<Mutex<SessionLog>>>,
    max_events: usize,
    max_bytes: usize,
    total_bytes: std::sync::atomic::AtomicUsize,
}

impl MemoryEventLog {
    /// A log that keeps at most `max_events` events and `max_bytes` of
    /// data per session, dropping the oldest first.
    pub fn new(max_events: usize, max_bytes: usize) -> Self {
        Self {
            logs: papaya::HashMap::new(),
            max_events: max_events.max(1),
            max_bytes: max_bytes.max(1),
            total_bytes: Default::default(),
        }
    }

    fn log_of(&self, session: &str) -> Arc<Mutex<SessionLog>> {
        let map = self.logs.pin();
        if let Some(l) = map.get(session) {
            return l.clone();
        }
        map.get_or_insert_with(session.to_owned(), Default::default)
            .clone()
    }
}

impl Default for MemoryEventLog {
    fn default() -> Self {
        Self::new(1024, 1 << 20)
    }
}

#[async_trait]
impl EventLog for MemoryEventLog {
    async fn append(
        &self,
        session: &str,
        stream: u64,
        data: Arc<str>,
    ) -> Result<EventId, StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        let log = self.log_of(session);
        let mut log = log.lock();
        let seq = log.next_seq.entry(stream).or_insert(0);
        *seq += 1;
        let id = EventId { stream, seq: *seq };
        log.bytes += data.len();
        self.total_bytes.fetch_add(data.len(), Relaxed);
        log.events.push_back(StoredEvent { id, data });
        while log.events.len() > self.max_events
            || (log.bytes > self.max_bytes && log.events.len() > 1)
        {
            if let Some(old) = log.events.pop_front() {
                log.bytes -= old.data.len();
                self.total_bytes.fetch_sub(old.data.len(), Relaxed);
            }
        }
        Ok(id)
    }

    async fn read_after(
        &self,
        session: &str,
        after: EventId,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let Some(log) = self.logs.pin().get(session).cloned() else {
            return Ok(Vec::new());
        };
        let log = log.lock();
        Ok(log
            .events
            .iter()
            .filter(|e| e.id.stream == after.stream && e.id.seq > after.seq)
            .cloned()
            .collect())
    }

    async fn drop_session(&self, session: &str) -> Result<(), StoreError> {
        if let Some(log) = self.logs.pin().remove(session) {
            self.total_bytes
                .fetch_sub(log.lock().bytes, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    fn bytes(&self) -> usize {
        self.total_bytes.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn append_and_replay_per_stream() {
        let log = MemoryEventLog::new(100, 1 << 20);
        let a1 = log.append("s", 1, "a1".into()).await.unwrap();
        let b1 = log.append("s", 2, "b1".into()).await.unwrap();
        let a2 = log.append("s", 1, "a2".into()).await.unwrap();
        assert_eq!(a1.to_string(), "1-1");
        assert_eq!(b1.to_string(), "2-1");
        assert_eq!(a2.to_string(), "1-2");
        let after = log
            .read_after("s", EventId { stream: 1, seq: 0 })
            .await
            .unwrap();
        let datas: Vec<&str> = after.iter().map(|e| &*e.data).collect();
        assert_eq!(datas, ["a1", "a2"]);
        let after = log.read_after("s", a1).await.unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(&*after[0].data, "a2");
        assert!(log.read_after("other", a1).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn bounded_by_count_and_bytes() {
        let log = MemoryEventLog::new(3, 1 << 20);
        for i in 0..10 {
            log.append("s", 1, format!("{i}").into()).await.unwrap();
        }
        let all = log
            .read_after("s", EventId { stream: 1, seq: 0 })
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(&*all[0].data, "7");
        let log = MemoryEventLog::new(100, 10);
        for _ in 0..10 {
            log.append("s", 1, "abcd".into()).await.unwrap();
        }
        assert!(log.bytes() <= 10);
        log.drop_session("s").await.unwrap();
        assert_eq!(log.bytes(), 0);
    }

    #[test]
    fn event_id_parse() {
        assert_eq!(EventId::parse("3-14"), Some(EventId { stream: 3, seq: 14 }));
        assert_eq!(EventId::parse("x-1"), None);
        assert_eq!(EventId::parse(""), None);
    }

    mod properties {
        //! Property tests of `Last-Event-ID` parsing: every id reads back
        //! from its spelling, any text is an id or not without a panic, and
        //! an id has one spelling (no sign, no leading zeros). Case counts
        //! are for CI; `PROPTEST_CASES=<n>` runs `n` (docs/testing.md).

        use proptest::prelude::*;
        use proptest::test_runner::Config as ProptestConfig;

        use super::*;

        fn cases(n: u32) -> ProptestConfig {
            let from_env = std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|v| v.parse().ok());
            ProptestConfig {
                cases: from_env.unwrap_or(n),
                ..ProptestConfig::default()
            }
        }

        proptest! {
            #![proptest_config(cases(4000))]

            #[test]
            fn ids_round_trip(stream in any::<u64>(), seq in any::<u64>()) {
                let id = EventId { stream, seq };
                prop_assert_eq!(EventId::parse(&id.to_string()), Some(id));
            }

            /// Any text, and text made of an id's own characters: an id
            /// only in the spelling `Display` gives it (around whitespace
            /// aside, which HTTP strips anyway).
            #[test]
            fn one_spelling_per_id(text in "\\PC{0,24}", near in "[-+0-9 ]{0,12}") {
                for s in [text, near] {
                    if let Some(id) = EventId::parse(&s) {
                        prop_assert_eq!(id.to_string(), s.trim());
                    }
                }
            }
        }
    }
}
