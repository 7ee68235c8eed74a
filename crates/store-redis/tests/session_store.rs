//! `RedisSessionStore` against a real `redis-server`.

use crate::support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::value::RawValue;
use support::RedisProcess;
use switchboard_store::{Admitted, Expiry, Quota, SessionRecord, SessionStore, StoreError};
use switchboard_store_redis::{RedisOptions, RedisSessionStore};

fn record(id: &str, at: u64) -> SessionRecord {
    let raw = |s: &str| RawValue::from_string(s.to_owned()).expect("valid JSON");
    let mut r = SessionRecord::new(id.to_owned(), "2025-11-25", raw("{}"), raw("{}"), None);
    r.created_at_ms = at;
    r.last_seen_ms = at;
    r
}

/// Run without `redis-server` on the PATH, a test of this file fails (it
/// used to pass after a note, claiming coverage that did not happen).
#[test]
fn fails_without_redis_server() {
    support::assert_fails_without_redis("session_store::passes_the_store_suite");
}

#[tokio::test]
async fn passes_the_store_suite() {
    let server = RedisProcess::start();
    let store = RedisSessionStore::new(support::connect(&server, "suite").await);
    switchboard_store::suite::session_store_suite(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_sweeping_at_once_each_get_a_session_once() {
    let server = RedisProcess::start();
    let options = RedisOptions {
        prefix: support::unique_prefix("sweep"),
        ..RedisOptions::default()
    };
    let mut nodes = Vec::new();
    for _ in 0..4 {
        let redis = switchboard_store_redis::Redis::connect(&server.url(), options.clone())
            .await
            .expect("connect");
        nodes.push(RedisSessionStore::new(redis));
    }
    for i in 0..300 {
        nodes[i % 4]
            .create(record(&format!("x{i:03}"), 1_000))
            .await
            .expect("create");
    }
    let rule = Expiry {
        idle_before_ms: 2_000,
        created_before_ms: 0,
        uninitialized_before_ms: 0,
        untethered_before_ms: 0,
    };
    let sweeps: Vec<_> = nodes
        .iter()
        .map(|n| {
            let n = n.clone();
            tokio::spawn(async move { n.expire(rule).await })
        })
        .collect();
    let mut all = Vec::new();
    for sweep in sweeps {
        all.extend(sweep.await.expect("join").expect("expire"));
    }
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 300, "every session reported once in total");
    assert_eq!(distinct.len(), 300);
    assert_eq!(nodes[0].count().await.expect("count"), 0);
}

#[tokio::test]
async fn touch_moves_last_seen_forward_only_and_load_shows_it() {
    let server = RedisProcess::start();
    let store = RedisSessionStore::new(support::connect(&server, "touch").await);
    store.create(record("a", 1_000)).await.expect("create");
    assert!(store.touch("a", 5_000).await.expect("touch"));
    assert!(
        store.touch("a", 3_000).await.expect("touch"),
        "an older touch still finds it"
    );
    let a = store.load("a").await.expect("load").expect("present");
    assert_eq!(a.last_seen_ms, 5_000);
    assert!(store.delete("a").await.expect("delete"));
    assert!(!store.touch("a", 6_000).await.expect("touch"), "gone");
    assert_eq!(
        store.count().await.expect("count"),
        0,
        "touch brings nothing back"
    );
}

#[tokio::test]
async fn keys_are_hash_tagged_and_records_get_a_ttl() {
    let server = RedisProcess::start();
    let prefix = support::unique_prefix("layout");
    let options = RedisOptions {
        prefix: prefix.clone(),
        ..RedisOptions::default()
    };
    let redis = switchboard_store_redis::Redis::connect(&server.url(), options)
        .await
        .expect("connect");
    let store = RedisSessionStore::new(redis).with_record_ttl(Duration::from_secs(3600));
    store.create(record("abc", 1_000)).await.expect("create");
    let mut raw = server.raw().await;
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw)
        .await
        .expect("KEYS");
    keys.sort();
    let expected: Vec<String> = [
        "s:{abc}",
        "{idx}:created",
        "{idx}:ids",
        "{idx}:seen",
        "{idx}:uninit",
    ]
    .iter()
    .map(|k| format!("{prefix}:{k}"))
    .collect();
    assert_eq!(keys, expected);
    let session_key = &expected[0];
    let ttl: i64 = redis::cmd("PTTL")
        .arg(session_key)
        .query_async(&mut raw)
        .await
        .expect("PTTL");
    assert!(ttl > 0 && ttl <= 3_600_000, "{ttl}");

    // A quota group's set lives on the indexes' slot and expires like a
    // record: an identity never seen again leaves nothing behind.
    let quota = [Quota {
        group: "identity:t/x".to_owned(),
        max: 2,
        max_bytes: Some(1 << 20),
    }];
    let admitted = store.create_within(record("def", 1_000), &quota).await;
    assert_eq!(admitted.expect("create_within"), Admitted::Yes);
    for set in ["q", "qb"] {
        let group = format!("{prefix}:{{idx}}:{set}:identity:t/x");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&group)
            .query_async(&mut raw)
            .await
            .expect("PTTL");
        assert!(ttl > 0 && ttl <= 3_600_000, "{set}: {ttl}");
    }
}

#[tokio::test]
async fn corrupt_records_are_reported_not_unwrapped() {
    let server = RedisProcess::start();
    let store = RedisSessionStore::new(support::connect(&server, "corrupt").await);
    store.create(record("c", 1_000)).await.expect("create");
    let mut raw = server.raw().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*:s:{c}")
        .query_async(&mut raw)
        .await
        .expect("KEYS");
    let _: () = redis::cmd("SET")
        .arg(&keys[0])
        .arg("not json")
        .query_async(&mut raw)
        .await
        .expect("SET");
    assert!(matches!(store.load("c").await, Err(StoreError::Corrupt(_))));
    let _: () = redis::cmd("DEL")
        .arg(&keys[0])
        .query_async(&mut raw)
        .await
        .expect("DEL");
    let _: () = redis::cmd("LPUSH")
        .arg(&keys[0])
        .arg("x")
        .query_async(&mut raw)
        .await
        .expect("LPUSH");
    assert!(
        matches!(store.load("c").await, Err(StoreError::Corrupt(_))),
        "wrong type"
    );
}

/// Four nodes creating sessions of one tenant at once: exactly the quota
/// is admitted; a refused session leaves no record; a session that ends
/// (deleted, expired) gives its place back; groups count independently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_hold_across_nodes_creating_at_once() {
    let server = RedisProcess::start();
    let options = RedisOptions {
        prefix: support::unique_prefix("quota"),
        ..RedisOptions::default()
    };
    let mut nodes = Vec::new();
    for _ in 0..4 {
        let redis = switchboard_store_redis::Redis::connect(&server.url(), options.clone())
            .await
            .expect("connect");
        nodes.push(std::sync::Arc::new(RedisSessionStore::new(redis)));
    }
    let quota = |group: &str, max| Quota {
        group: group.to_owned(),
        max,
        max_bytes: None,
    };
    let tenant = [quota("tenant:a", 5)];
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (node, quotas) = (nodes[i % 4].clone(), tenant.clone());
        tasks.push(tokio::spawn(async move {
            let id = format!("q{i:02}");
            let admitted = node
                .create_within(record(&id, 1_000 + i as u64), &quotas)
                .await
                .expect("create_within");
            (id, admitted)
        }));
    }
    let mut admitted = Vec::new();
    for t in tasks {
        let (id, outcome) = t.await.expect("task");
        match outcome {
            Admitted::Yes => admitted.push(id),
            Admitted::Refused(i) => {
                assert_eq!(i, 0);
                assert!(nodes[0].load(&id).await.expect("load").is_none(), "{id}");
            }
            Admitted::OverBytes(i) => panic!("{id}: no byte budget, yet over {i}"),
        }
    }
    assert_eq!(admitted.len(), 5, "{admitted:?}");
    assert_eq!(nodes[1].count().await.expect("count"), 5);

    // Another group is not full; a second quota of the same call refuses.
    let two = [quota("identity:x", 9), quota("tenant:a", 5)];
    let refused = nodes[2].create_within(record("r1", 2_000), &two).await;
    assert_eq!(refused.expect("create_within"), Admitted::Refused(1));
    let other = [quota("tenant:b", 1)];
    let ok = nodes[2].create_within(record("b1", 2_000), &other).await;
    assert_eq!(ok.expect("create_within"), Admitted::Yes);

    // Deleted at one node, expired by another: two places come back.
    assert!(nodes[3].delete(&admitted[0]).await.expect("delete"));
    let expired = nodes[0]
        .expire(Expiry {
            idle_before_ms: 1_100,
            created_before_ms: 0,
            uninitialized_before_ms: 0,
            untethered_before_ms: 0,
        })
        .await
        .expect("expire");
    assert_eq!(expired.len(), 4, "{expired:?}");
    let mut again = 0;
    for i in 0..7 {
        let r = nodes[i % 4]
            .create_within(record(&format!("n{i}"), 3_000), &tenant)
            .await
            .expect("create_within");
        again += usize::from(r == Admitted::Yes);
    }
    assert_eq!(again, 5, "each ended session frees one place");
}

#[tokio::test]
async fn keeps_no_record_over_its_bound() {
    let server = RedisProcess::start();
    let max = switchboard_store::suite::RECORD_BOUND;
    let store =
        RedisSessionStore::new(support::connect(&server, "bound").await).with_max_record_bytes(max);
    switchboard_store::suite::record_bound_suite(&store, max).await;
}

/// Four nodes creating 1000-byte sessions of one identity at once, under a
/// budget of five such records: exactly five are admitted, and the bytes
/// held stay within the budget as records grow, shrink and end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_budgets_hold_across_nodes() {
    use switchboard_store::Updated;
    use switchboard_store::suite::record_of_size;
    let server = RedisProcess::start();
    let options = RedisOptions {
        prefix: support::unique_prefix("bytes"),
        ..RedisOptions::default()
    };
    let mut nodes = Vec::new();
    for _ in 0..4 {
        let redis = switchboard_store_redis::Redis::connect(&server.url(), options.clone())
            .await
            .expect("connect");
        nodes.push(std::sync::Arc::new(RedisSessionStore::new(redis)));
    }
    const SIZE: usize = 1000;
    let budget = [Quota {
        group: "identity:k".to_owned(),
        max: 100,
        max_bytes: Some(5 * SIZE),
    }];
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (node, quotas) = (nodes[i % 4].clone(), budget.clone());
        tasks.push(tokio::spawn(async move {
            let id = format!("b{i:02}");
            let admitted = node
                .create_within(record_of_size(&id, SIZE), &quotas)
                .await
                .expect("create_within");
            (id, admitted)
        }));
    }
    let mut admitted = Vec::new();
    for t in tasks {
        let (id, outcome) = t.await.expect("task");
        match outcome {
            Admitted::Yes => admitted.push(id),
            Admitted::OverBytes(0) => {
                assert!(nodes[0].load(&id).await.expect("load").is_none(), "{id}");
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    assert_eq!(admitted.len(), 5, "{admitted:?}");
    let held = |ids: Vec<String>| {
        let node = nodes[0].clone();
        async move {
            let mut sum = 0;
            for id in ids {
                sum += node
                    .load(&id)
                    .await
                    .unwrap()
                    .map_or(0, |r| r.stored_bytes());
            }
            sum
        }
    };
    assert_eq!(held(admitted.clone()).await, 5 * SIZE);

    // One byte more on a full budget is refused, and not written.
    let (a, b) = (&admitted[0], &admitted[1]);
    let grown = record_of_size(a, SIZE + 1);
    let refused = nodes[1]
        .update_within(&grown, &budget)
        .await
        .expect("update");
    assert_eq!(refused, Updated::OverBytes(0));
    let kept = nodes[2].load(a).await.expect("load").expect("present");
    assert_eq!(kept.stored_bytes(), SIZE);
    // Once another record shrinks, there is room for it.
    let shrunk = record_of_size(b, SIZE - 100);
    assert_eq!(
        nodes[3]
            .update_within(&shrunk, &budget)
            .await
            .expect("update"),
        Updated::Yes
    );
    assert_eq!(
        nodes[1]
            .update_within(&grown, &budget)
            .await
            .expect("update"),
        Updated::Yes
    );
    assert_eq!(held(admitted.clone()).await, 5 * SIZE - 99);
    // An ended session gives its bytes back (pruned when the budget is full).
    assert!(nodes[0].delete(&admitted[4]).await.expect("delete"));
    let next = nodes[2]
        .create_within(record_of_size("late", SIZE), &budget)
        .await
        .expect("create_within");
    assert_eq!(next, Admitted::Yes);
    let over = nodes[3]
        .create_within(record_of_size("later", SIZE), &budget)
        .await
        .expect("create_within");
    assert_eq!(over, Admitted::OverBytes(0), "99 bytes left");
    // The count cap and the byte budget are told apart.
    let one = [Quota {
        max: 1,
        ..budget[0].clone()
    }];
    let count = nodes[0].create_within(record_of_size("c", 300), &one).await;
    assert_eq!(count.expect("create_within"), Admitted::Refused(0));
}

#[tokio::test]
async fn passes_the_entries_suite_in_each_space() {
    use switchboard_store::Space;
    let server = RedisProcess::start();
    let redis = support::connect(&server, "vault").await;
    for space in [Space::Vault, Space::Pins] {
        let store = switchboard_store_redis::RedisEntryStore::new(redis.clone(), space);
        switchboard_store::suite::entry_store_suite(&store).await;
    }
}

/// A tethered session admitted under a quota is in the tethered index as
/// one created without (the admission script knows nothing of it), so it
/// expires once no longer renewed — and leaves its quota group then.
#[tokio::test]
async fn a_tethered_session_admitted_under_a_quota_expires_unrenewed() {
    let server = RedisProcess::start();
    let store = RedisSessionStore::new(support::connect(&server, "tether").await);
    let quota = [Quota {
        group: "tenant:t".to_owned(),
        max: 1,
        max_bytes: None,
    }];
    let mut tethered = record("sse", 1_000);
    tethered.initialized = true;
    tethered.tethered = true;
    let admitted = store.create_within(tethered, &quota).await;
    assert_eq!(admitted.expect("create_within"), Admitted::Yes);
    let full = store.create_within(record("other", 1_000), &quota).await;
    assert_eq!(full.expect("create_within"), Admitted::Refused(0));
    store
        .renew(&["sse".to_owned()], 5_000)
        .await
        .expect("renew");
    let rule = |untethered_before_ms| Expiry {
        idle_before_ms: 0,
        created_before_ms: 0,
        uninitialized_before_ms: 0,
        untethered_before_ms,
    };
    assert!(store.expire(rule(4_000)).await.expect("expire").is_empty());
    assert_eq!(store.expire(rule(6_000)).await.expect("expire"), ["sse"]);
    let admitted = store.create_within(record("other", 7_000), &quota).await;
    assert_eq!(
        admitted.expect("create_within"),
        Admitted::Yes,
        "the quota was freed"
    );
}
