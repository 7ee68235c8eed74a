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
