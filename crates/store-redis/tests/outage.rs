//! With Redis gone every call fails fast with `Unavailable` (nothing
//! hangs), and the same handles work again once a Redis is back on the port.

use crate::support;

use std::time::Duration;

use serde_json::value::RawValue;
use support::RedisProcess;
use switchboard_store::{EventId, EventLog, Expiry, SessionRecord, SessionStore, StoreError};
use switchboard_store_redis::{Redis, RedisEventLog, RedisOptions, RedisSessionStore};

fn record(id: &str) -> SessionRecord {
    let raw = |s: &str| RawValue::from_string(s.to_owned()).expect("valid JSON");
    SessionRecord::new(id.to_owned(), "2025-11-25", raw("{}"), raw("{}"), None)
}

fn unavailable<T: std::fmt::Debug>(what: &str, r: Result<T, StoreError>) {
    assert!(
        matches!(r, Err(StoreError::Unavailable(_))),
        "{what}: expected Unavailable, got {r:?}"
    );
}

const RULE: Expiry = Expiry {
    idle_before_ms: 0,
    created_before_ms: 0,
    uninitialized_before_ms: 0,
    untethered_before_ms: 0,
};

async fn all_unavailable(store: &RedisSessionStore, log: &RedisEventLog) {
    unavailable("create", store.create(record("n")).await);
    unavailable("load", store.load("a").await);
    unavailable("update", store.update(&record("a")).await);
    unavailable("touch", store.touch("a", 1).await);
    unavailable("delete", store.delete("a").await);
    unavailable("scan", store.scan(None, 10).await);
    unavailable("expire", store.expire(RULE).await);
    unavailable("count", store.count().await);
    unavailable("longest_idle", store.longest_idle(1).await);
    unavailable("append", log.append("a", 1, "x".into()).await);
    let after = EventId { stream: 1, seq: 0 };
    unavailable("read_after", log.read_after("a", after).await);
    unavailable("drop_session", log.drop_session("a").await);
}

#[tokio::test]
async fn fails_fast_while_redis_is_down_and_recovers() {
    let mut server = RedisProcess::start();
    let redis = support::connect(&server, "outage").await;
    let store = RedisSessionStore::new(redis.clone());
    let log = RedisEventLog::new(redis, 100, 1 << 20, Duration::from_secs(3600));
    store.create(record("a")).await.expect("create");

    server.kill();
    // Twice: the first calls find the connection dropped, the next ones
    // find reconnecting failing.
    all_unavailable(&store, &log).await;
    all_unavailable(&store, &log).await;

    let port = server.port;
    let _back = RedisProcess::start_on(port).expect("redis-server again on the same port");
    // The manager reconnects on use; a few calls may still meet the broken
    // connection before it has.
    let mut recovered = false;
    for _ in 0..100 {
        if store.create(record("b")).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "the store did not recover after Redis came back");
    assert!(store.load("b").await.expect("load").is_some());
    assert!(
        store.load("a").await.expect("load").is_none(),
        "the new Redis is empty"
    );
    let id = log.append("b", 1, "x".into()).await.expect("append");
    assert_eq!(id, EventId { stream: 1, seq: 1 });
}

#[tokio::test]
async fn connecting_to_nothing_fails_with_a_clear_message() {
    let mut server = RedisProcess::start();
    let port = server.port;
    server.kill();
    let url = format!("redis://user:hunter2@127.0.0.1:{port}");
    let e = Redis::connect(&url, RedisOptions::default())
        .await
        .expect_err("nothing listens");
    let StoreError::Unavailable(message) = e else {
        panic!("expected Unavailable, got {e:?}")
    };
    assert!(!message.contains("hunter2"), "{message}");
    let bad = Redis::connect("http://x:hunter2@h", RedisOptions::default())
        .await
        .expect_err("not a Redis URL");
    assert!(!bad.to_string().contains("hunter2"), "{bad}");
}
