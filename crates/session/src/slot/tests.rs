//! Following a stream from the log and feeding a standalone stream:
//! each event once, in the log's order.

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

/// An event the log refuses is not sent either: the connection is cut
/// off, and the client's resumption gets the log's events in order.
#[tokio::test]
async fn an_event_the_log_refuses_cuts_the_connection_off() {
    use switchboard_store::MemoryEventLog;
    #[derive(Debug, Default)]
    struct Refusing {
        log: MemoryEventLog,
        refuse: std::sync::atomic::AtomicBool,
    }
    #[async_trait::async_trait]
    impl EventLog for Refusing {
        async fn append(&self, s: &str, stream: u64, d: Arc<str>) -> Result<EventId, StoreError> {
            if self.refuse.load(Ordering::Relaxed) {
                return Err(StoreError::Unavailable("paused".into()));
            }
            self.log.append(s, stream, d).await
        }
        async fn read_after(&self, s: &str, a: EventId) -> Result<Vec<StoredEvent>, StoreError> {
            self.log.read_after(s, a).await
        }
        async fn drop_session(&self, s: &str) -> Result<(), StoreError> {
            self.log.drop_session(s).await
        }
        fn bytes(&self) -> usize {
            self.log.bytes()
        }
    }
    let log = Refusing::default();
    let (tx, mut rx) = mpsc::channel(16);
    let slot = StreamSlot::with_conn(tx);
    assert!(slot.emit(&log, "s", 5, "a".into()).await.unwrap());
    log.refuse.store(true, Ordering::Relaxed);
    assert!(slot.emit(&log, "s", 5, "b".into()).await.is_err());
    log.refuse.store(false, Ordering::Relaxed);
    assert!(
        !slot.emit(&log, "s", 5, "c".into()).await.unwrap(),
        "no connection now"
    );
    let mut seen = Vec::new();
    while let Some(f) = rx.recv().await {
        seen.push(f.data.to_string());
    }
    assert_eq!(
        seen,
        ["a"],
        "nothing after the refused event on that connection"
    );
    let mut resumed = slot
        .resume(&log, "s", EventId { stream: 5, seq: 1 }, 16)
        .await
        .unwrap();
    let f = resumed.recv().await.unwrap();
    assert_eq!((f.id.map(|i| i.seq), &*f.data), (Some(2), "c"));

    // A connection that cannot resume gets the event anyway, without an id.
    let (tx, mut rx) = mpsc::channel(16);
    let slot = StreamSlot::with_conn(tx);
    log.refuse.store(true, Ordering::Relaxed);
    assert!(
        slot.emit_unresumable(&log, "t", 0, "d".into())
            .await
            .is_err()
    );
    log.refuse.store(false, Ordering::Relaxed);
    assert!(
        slot.emit_unresumable(&log, "t", 0, "e".into())
            .await
            .unwrap()
    );
    let f = rx.recv().await.unwrap();
    assert_eq!((f.id, &*f.data), (None, "d"));
    assert_eq!(rx.recv().await.unwrap().id.map(|i| i.seq), Some(1));
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
