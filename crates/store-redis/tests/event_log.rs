//! `RedisEventLog` against a real `redis-server`, mirroring the memory
//! log's tests.

use crate::support;

use std::time::Duration;

use support::RedisProcess;
use switchboard_store::{EventId, EventLog, MemoryEventLog};
use switchboard_store_redis::RedisEventLog;

const HOUR: Duration = Duration::from_secs(3600);

fn from(stream: u64, seq: u64) -> EventId {
    EventId { stream, seq }
}

async fn datas(log: &dyn EventLog, session: &str, after: EventId) -> Vec<String> {
    let events = log.read_after(session, after).await.expect("read_after");
    events.iter().map(|e| e.data.to_string()).collect()
}

#[tokio::test]
async fn append_and_replay_per_stream() {
    let server = RedisProcess::start();
    let log = RedisEventLog::new(
        support::connect(&server, "replay").await,
        100,
        1 << 20,
        HOUR,
    );
    let a1 = log.append("s", 1, "a1".into()).await.expect("append");
    let b1 = log.append("s", 2, "b1".into()).await.expect("append");
    let a2 = log.append("s", 1, "a2".into()).await.expect("append");
    assert_eq!(a1.to_string(), "1-1");
    assert_eq!(b1.to_string(), "2-1");
    assert_eq!(a2.to_string(), "1-2");
    assert_eq!(datas(&log, "s", from(1, 0)).await, ["a1", "a2"]);
    let after = log.read_after("s", a1).await.expect("read_after");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, a2);
    assert_eq!(&*after[0].data, "a2");
    assert!(datas(&log, "other", a1).await.is_empty());
    assert!(
        datas(&log, "s", from(9, 0)).await.is_empty(),
        "unknown stream"
    );
    assert!(
        datas(&log, "s", from(1, 50)).await.is_empty(),
        "beyond the end"
    );
    assert!(datas(&log, "s", from(1, u64::MAX)).await.is_empty());
}

/// Whatever the ids asked for, Redis and memory answer the same.
#[tokio::test]
async fn read_after_agrees_with_the_memory_log() {
    let server = RedisProcess::start();
    let redis = RedisEventLog::new(
        support::connect(&server, "agree").await,
        1000,
        1 << 20,
        HOUR,
    );
    let memory = MemoryEventLog::new(1000, 1 << 20);
    for i in 0..30u64 {
        let data: std::sync::Arc<str> = format!("e{i}").into();
        let a = redis
            .append("s", i % 3, data.clone())
            .await
            .expect("append");
        let b = memory.append("s", i % 3, data).await.expect("append");
        assert_eq!(a, b);
    }
    for stream in 0..4 {
        for seq in [0, 1, 5, 10, 11, 99] {
            let after = from(stream, seq);
            let r = redis.read_after("s", after).await.expect("redis");
            let m = memory.read_after("s", after).await.expect("memory");
            assert_eq!(r, m, "after {after}");
        }
    }
}

#[tokio::test]
async fn bounded_by_count_and_bytes() {
    let server = RedisProcess::start();
    let redis = support::connect(&server, "bounds").await;
    // MAXLEN ~ trims whole stream nodes (100 entries by default): a stream
    // keeps at least the bound and at most one node more, newest last.
    let log = RedisEventLog::new(redis.clone(), 150, 1 << 20, HOUR);
    for i in 0..1000 {
        log.append("s", 1, format!("{i}").into())
            .await
            .expect("append");
    }
    let all = log.read_after("s", from(1, 0)).await.expect("read_after");
    assert!((150..=250).contains(&all.len()), "{}", all.len());
    assert_eq!(&*all[all.len() - 1].data, "999");
    let seqs: Vec<u64> = all.iter().map(|e| e.id.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "contiguous, in order"
    );
    // A trimmed id: what is left after it, as in the memory log.
    let left = log.read_after("s", from(1, 3)).await.expect("read_after");
    assert_eq!(left, all);

    // Bytes: 5 KiB events under a 20 KiB bound; a node holds at most 4 KiB
    // (one such entry), so trimming is close to exact.
    let log = RedisEventLog::new(redis, 1000, 20 << 10, HOUR);
    let big: std::sync::Arc<str> = "x".repeat(5 << 10).into();
    for _ in 0..50 {
        log.append("b", 1, big.clone()).await.expect("append");
    }
    let kept = log.read_after("b", from(1, 0)).await.expect("read_after");
    assert!((4..=6).contains(&kept.len()), "{}", kept.len());
    assert_eq!(kept[kept.len() - 1].id.seq, 50);
}

#[tokio::test]
async fn drop_session_removes_every_stream_and_keys_expire() {
    let server = RedisProcess::start();
    let log = RedisEventLog::new(support::connect(&server, "drop").await, 100, 1 << 20, HOUR);
    for stream in 0..5 {
        log.append("s", stream, "x".into()).await.expect("append");
    }
    log.append("keep", 1, "y".into()).await.expect("append");
    let mut raw = server.raw().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw)
        .await
        .expect("KEYS");
    assert_eq!(
        keys.len(),
        8,
        "5 streams and a set for s, a stream and a set for keep: {keys:?}"
    );
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut raw)
            .await
            .expect("PTTL");
        assert!(ttl > 0 && ttl <= 3_600_000, "{key}: {ttl}");
    }
    log.drop_session("s").await.expect("drop");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw)
        .await
        .expect("KEYS");
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| k.contains("{keep}")), "{keys:?}");
    assert!(datas(&log, "s", from(0, 0)).await.is_empty());
    log.drop_session("never")
        .await
        .expect("dropping an unknown session is fine");
    let again = log.append("s", 1, "z".into()).await.expect("append");
    assert_eq!(
        again,
        from(1, 1),
        "a dropped session starts again at 1, as in memory"
    );
}

/// A long session keeps its standalone stream and its latest request
/// streams, not every stream it ever had: one beyond
/// `MAX_REQUEST_STREAMS` drops the oldest. An old node's set of stream
/// numbers is still read and removed when the session is dropped.
#[tokio::test]
async fn a_session_keeps_its_latest_request_streams() {
    let server = RedisProcess::start();
    let log = RedisEventLog::new(
        support::connect_prefix(&server, "many").await,
        100,
        1 << 20,
        HOUR,
    );
    let max = switchboard_store_redis::MAX_REQUEST_STREAMS as u64;
    log.append("s", 0, "get".into()).await.expect("append");
    for stream in 1..=max + 10 {
        log.append("s", stream, "first".into())
            .await
            .expect("append");
        log.append("s", stream, "second".into())
            .await
            .expect("append");
    }
    let mut raw = server.raw().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("many:ev:*")
        .query_async(&mut raw)
        .await
        .expect("KEYS");
    assert_eq!(
        keys.len() as u64,
        max + 1,
        "the latest and the standalone: {keys:?}"
    );
    assert!(
        datas(&log, "s", from(1, 0)).await.is_empty(),
        "the oldest dropped"
    );
    assert!(datas(&log, "s", from(10, 0)).await.is_empty());
    assert_eq!(datas(&log, "s", from(11, 0)).await, ["first", "second"]);
    assert_eq!(datas(&log, "s", from(max + 10, 1)).await, ["second"]);
    assert_eq!(datas(&log, "s", from(0, 0)).await, ["get"], "never dropped");

    // A set an older node kept.
    let () = redis::cmd("SADD")
        .arg("many:evs:{s}")
        .arg(7)
        .query_async(&mut raw)
        .await
        .expect("SADD");
    let () = redis::cmd("XADD")
        .arg("many:ev:{s}:7")
        .arg("0-*")
        .arg("d")
        .arg("old")
        .query_async::<String>(&mut raw)
        .await
        .map(drop)
        .expect("XADD");
    log.drop_session("s").await.expect("drop");
    let left: Vec<String> = redis::cmd("KEYS")
        .arg("many:*{s}*")
        .query_async(&mut raw)
        .await
        .expect("KEYS");
    assert!(left.is_empty(), "{left:?}");
}

/// The request a stream answers is noted for the nodes following it, and
/// goes with the session (and with a stream dropped past the bound).
#[tokio::test]
async fn a_streams_request_is_noted_for_its_followers() {
    let server = RedisProcess::start();
    let log = RedisEventLog::new(support::connect(&server, "noted").await, 100, 1 << 20, HOUR);
    assert_eq!(log.request_of("s", 5).await.expect("read"), None);
    log.note_request("s", 5, r#""req-1""#).await.expect("note");
    log.append("s", 5, "e".into()).await.expect("append");
    assert_eq!(
        log.request_of("s", 5).await.expect("read").as_deref(),
        Some(r#""req-1""#)
    );
    assert_eq!(log.request_of("s", 6).await.expect("read"), None);
    log.drop_session("s").await.expect("drop");
    assert_eq!(log.request_of("s", 5).await.expect("read"), None);
}

#[tokio::test]
async fn two_nodes_share_one_log() {
    let server = RedisProcess::start();
    let prefix = support::unique_prefix("shared");
    let node_a = RedisEventLog::new(
        support::connect_prefix(&server, &prefix).await,
        100,
        1 << 20,
        HOUR,
    );
    let node_b = RedisEventLog::new(
        support::connect_prefix(&server, &prefix).await,
        100,
        1 << 20,
        HOUR,
    );
    node_a
        .append("s", 1, "from a".into())
        .await
        .expect("append");
    let id = node_b
        .append("s", 1, "from b".into())
        .await
        .expect("append");
    assert_eq!(id, from(1, 2));
    assert_eq!(datas(&node_b, "s", from(1, 0)).await, ["from a", "from b"]);
}

/// Sessions registered as having a standalone stream are listed while
/// they live (another node's registration included); an ended one is not,
/// and a registration whose session is gone is pruned.
#[tokio::test]
async fn standalone_registrations_follow_the_sessions() {
    let server = RedisProcess::start();
    let prefix = support::unique_prefix("gets");
    let redis = support::connect_prefix(&server, &prefix).await;
    let store = switchboard_store_redis::RedisSessionStore::new(redis.clone());
    let node_a = RedisEventLog::new(redis, 100, 1 << 20, HOUR);
    let node_b = RedisEventLog::new(
        support::connect_prefix(&server, &prefix).await,
        100,
        1 << 20,
        HOUR,
    );
    use switchboard_store::SessionStore;
    let raw = |s: &str| serde_json::value::RawValue::from_string(s.to_owned()).expect("JSON");
    for id in ["a", "b"] {
        let r = switchboard_store::SessionRecord::new(
            id.into(),
            "2025-11-25",
            raw("{}"),
            raw("{}"),
            None,
        );
        store.create(r).await.expect("create");
    }
    assert!(node_a.standalone_sessions().await.expect("list").is_empty());
    node_a.register_standalone("a").await.expect("register");
    node_b.register_standalone("b").await.expect("register");
    node_b
        .register_standalone("b")
        .await
        .expect("twice is once");
    node_a.register_standalone("gone").await.expect("register");
    let mut listed = node_b.standalone_sessions().await.expect("list");
    listed.sort();
    assert_eq!(listed, ["a", "b"], "live sessions only");

    node_b.drop_session("a").await.expect("drop");
    assert_eq!(node_a.standalone_sessions().await.expect("list"), ["b"]);

    assert_eq!(node_a.last_seq("b", 0).await.expect("last"), 0);
    for _ in 0..3 {
        node_b.append("b", 0, "x".into()).await.expect("append");
    }
    assert_eq!(node_a.last_seq("b", 0).await.expect("last"), 3);
    assert_eq!(node_a.last_seq("b", 1).await.expect("last"), 0);
}
