//! The Redis backends on a 3-master Redis Cluster started by the test: the
//! session and task store suites, quotas, event logs, a rate-limit budget shared by
//! two connections, and the bus; the data spreads over the masters (keys
//! hash-tagged per session), and every script and transaction stays on one
//! slot (Redis would refuse it otherwise). And, on demand (ignored by
//! default), with a replica per master: the master of the indexes killed,
//! the store fails until the replica is promoted, then serves every
//! session again.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use support::RedisCluster;
use switchboard_limits::{Decision, Rate, RateLimiter};
use switchboard_store::{
    Admitted, BusMessage, Claim, EventId, EventLog, Quota, SessionBus, SessionOwners,
    SessionRecord, SessionStore,
};
use switchboard_store_redis::{
    RedisBus, RedisEventLog, RedisRateLimiter, RedisSessionOwners, RedisSessionStore,
    RedisTaskStore,
};

fn record(id: &str, at: u64) -> SessionRecord {
    let raw = |s: &str| RawValue::from_string(s.to_owned()).expect("valid JSON");
    let mut r = SessionRecord::new(id.to_owned(), "2025-11-25", raw("{}"), raw("{}"), None);
    r.created_at_ms = at;
    r.last_seen_ms = at;
    r
}

/// The task store on a cluster: each task, each principal's quota set and
/// the working index (orphan sweep) are single-slot keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_store_works_on_a_cluster() {
    let cluster = RedisCluster::start();
    let store = RedisTaskStore::new(cluster.connect("tasks").await);
    switchboard_store::suite::task_store_suite(&store).await;
}

/// Owner records on a cluster: a node renews and releases the sessions it
/// owns in one pipeline although their records sit on different slots (the
/// pipeline is split by each script call's key), and learns which it lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_renew_and_release_across_slots() {
    let cluster = RedisCluster::start();
    let owners = RedisSessionOwners::new(cluster.connect("owners").await, Duration::from_secs(600));
    let lease = Duration::from_secs(60);
    let mine: Vec<String> = (0..12).map(|i| format!("s{i}")).collect();
    for s in &mine {
        let claim = owners.claim(s, "a", "http://a/mcp", lease).await.unwrap();
        assert_eq!(claim, Claim::New, "{s}");
    }
    owners
        .claim("other", "b", "http://b/mcp", lease)
        .await
        .unwrap();
    let mut asked = mine.clone();
    asked.push("other".to_owned());
    assert_eq!(
        owners.renew(&asked, "a", lease).await.unwrap(),
        ["other".to_owned()],
        "a keeps its twelve sessions and does not own the thirteenth"
    );
    owners.release(&mine, "a").await.unwrap();
    for s in &mine {
        let claim = owners.claim(s, "b", "http://b/mcp", lease).await.unwrap();
        assert_eq!(claim, Claim::TookOver { from: "a".into() }, "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_works_on_a_cluster() {
    let cluster = RedisCluster::start();
    let store = RedisSessionStore::new(cluster.connect("suite").await)
        .with_record_ttl(Duration::from_secs(3600));
    switchboard_store::suite::session_store_suite(&store).await;

    // Quotas: one script on the indexes' slot, with the groups.
    let quota = |max| Quota {
        group: "tenant:a".to_owned(),
        max,
        max_bytes: None,
    };
    for i in 0..2 {
        let admitted = store
            .create_within(record(&format!("q{i}"), 1_000), &[quota(2)])
            .await
            .expect("admit");
        assert_eq!(admitted, Admitted::Yes);
    }
    let refused = store
        .create_within(record("q2", 1_000), &[quota(2)])
        .await
        .expect("admit");
    assert_eq!(refused, Admitted::Refused(0));
    assert!(store.load("q2").await.expect("load").is_none());
    assert!(store.delete("q0").await.expect("delete"));
    let again = store.create_within(record("q3", 1_000), &[quota(2)]).await;
    assert_eq!(again.expect("admit"), Admitted::Yes, "a freed place");

    // Byte budgets: the sizes live beside the group, on the same slot.
    let size = record("b0", 1_000).stored_bytes();
    let budget = [Quota {
        group: "identity:b".to_owned(),
        max: 10,
        max_bytes: Some(2 * size),
    }];
    for id in ["b0", "b1"] {
        let admitted = store.create_within(record(id, 1_000), &budget).await;
        assert_eq!(admitted.expect("admit"), Admitted::Yes);
    }
    let over = store.create_within(record("b2", 1_000), &budget).await;
    assert_eq!(over.expect("admit"), Admitted::OverBytes(0));
    let mut grown = record("b0", 1_000);
    grown.subscriptions.push("test://x".to_owned());
    let refused = store.update_within(&grown, &budget).await.expect("update");
    assert_eq!(refused, switchboard_store::Updated::OverBytes(0));
    for id in ["b0", "b1"] {
        assert!(store.delete(id).await.expect("delete"));
    }

    // Many sessions: their records land on every master.
    for i in 0..30 {
        store
            .create(record(&format!("spread-{i}"), 2_000))
            .await
            .expect("create");
    }
    let page = store.scan(None, 100).await.expect("scan");
    assert_eq!(page.items.len(), 32, "every live session, loaded at once");
    let spread = cluster.keys_per_master();
    assert!(spread.iter().all(|&n| n > 0), "keys per master: {spread:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_logs_and_rate_limits_work_on_a_cluster() {
    let cluster = RedisCluster::start();
    let prefix = support::unique_prefix("log");
    let (a, b) = (
        cluster.connect_prefix(&prefix).await,
        cluster.connect_prefix(&prefix).await,
    );
    let ttl = Duration::from_secs(600);
    let (log_a, log_b) = (
        RedisEventLog::new(a.clone(), 100, 1 << 20, ttl),
        RedisEventLog::new(b.clone(), 100, 1 << 20, ttl),
    );
    for session in ["s1", "s2", "s3"] {
        for stream in [0, 1] {
            for n in 1..=3u64 {
                let id = log_a
                    .append(
                        session,
                        stream,
                        Arc::from(format!("{session}/{stream}/{n}")),
                    )
                    .await
                    .expect("append");
                assert_eq!(id, EventId { stream, seq: n });
            }
        }
    }
    let after = log_b
        .read_after("s2", EventId { stream: 1, seq: 1 })
        .await
        .expect("read");
    let data: Vec<&str> = after.iter().map(|e| &*e.data).collect();
    assert_eq!(data, ["s2/1/2", "s2/1/3"]);
    log_b.drop_session("s2").await.expect("drop");
    let gone = log_a.read_after("s2", EventId { stream: 0, seq: 0 }).await;
    assert!(gone.expect("read").is_empty());

    // One burst of 5 shared by two connections (as two nodes).
    let (rl_a, rl_b) = (RedisRateLimiter::new(a), RedisRateLimiter::new(b));
    let rate = Rate::new(0.01, 5).expect("rate");
    let mut allowed = 0;
    for i in 0..10 {
        let limiter = if i % 2 == 0 { &rl_a } else { &rl_b };
        if let Decision::Allowed { .. } = limiter.check("tenant:a", rate).await.expect("check") {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5, "the burst, once for both");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_reaches_nodes_subscribed_anywhere() {
    let cluster = RedisCluster::start();
    let prefix = support::unique_prefix("bus");
    let mut buses = Vec::new();
    for at in 0..2 {
        let redis = cluster.connect_via(&prefix, at).await;
        buses.push(RedisBus::start(&redis, 4096).await.expect("bus"));
    }
    // A third whose seeds are mostly unreachable: it subscribes on the
    // node that answers, wherever its turn starts.
    let dead = |_| format!("redis://127.0.0.1:{}", support::free_port());
    let seeds = [dead(0), dead(1), cluster.nodes[2].url()].join(",");
    let redis = cluster.connect_seeds(&prefix, &seeds).await;
    buses.push(RedisBus::start(&redis, 4096).await.expect("bus"));
    let cancel = |id: usize| BusMessage::Cancel {
        session: "s".into(),
        id: id.to_string(),
    };
    // Each hears the other two, not itself.
    let mut rxs: Vec<_> = buses.iter().map(|b| b.subscribe()).collect();
    for (from, bus) in buses.iter().enumerate() {
        assert!(bus.publish(cancel(from)));
    }
    for (at, rx) in rxs.iter_mut().enumerate() {
        let mut heard = Vec::new();
        for _ in 0..2 {
            let m = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("a message within 20 s")
                .expect("an open bus");
            heard.push(format!("{m:?}"));
        }
        heard.sort();
        let mut want: Vec<String> = (0..3)
            .filter(|&f| f != at)
            .map(|f| format!("{:?}", cancel(f)))
            .collect();
        want.sort();
        assert_eq!(heard, want, "bus {at}");
    }
}

/// Six Redis processes and a failover that waits on `cluster-node-timeout`
/// and gossip: on a loaded machine (CI's two shared cores) it can take
/// longer than the test time limit, so it runs on demand:
/// `cargo nextest run -p switchboard-store-redis -E 'test(/^cluster::/)' --run-ignored all`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow and load-sensitive (a Redis Cluster failover); run on demand"]
async fn the_store_follows_a_failover_to_a_replica() {
    let mut cluster = RedisCluster::start_with(1);
    let prefix = support::unique_prefix("failover");
    let redis = cluster.connect_prefix(&prefix).await;
    let store = RedisSessionStore::new(redis.clone());
    let log = RedisEventLog::new(redis, 100, 1 << 20, Duration::from_secs(600));
    let ids: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    for id in &ids {
        store.create(record(id, 1_000)).await.expect("create");
        log.append(id, 0, Arc::from("e")).await.expect("append");
    }
    // The master of the indexes (every session needs it), once its replica
    // has everything: then kill it.
    let idx = format!("{prefix}:{{idx}}:seen");
    let mut master = None;
    for _ in 0..400 {
        master = cluster
            .master_of(&idx)
            .filter(|&(at, synced)| synced && cluster.replicas_hold_all_of(at));
        if master.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (at, _) = master.expect("the indexes' master, its replica in sync");
    cluster.nodes[at].kill();

    // Failing (503s) until the replica is promoted and every node agrees
    // again; then every session and its log are served. A bounded wait:
    // on a loaded machine the cluster may take several seconds to settle.
    let mut last = String::new();
    let mut served = false;
    for _ in 0..120 {
        match all_served(&store, &log, &ids).await {
            Ok(()) => {
                served = true;
                break;
            }
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        served,
        "not served after the failover of {}: {last}; {}",
        cluster.nodes[at].port,
        cluster.describe()
    );
    store.create(record("after", 2_000)).await.expect("create");
    assert_eq!(store.count().await.expect("count"), ids.len() + 1);
}

/// Whether the store counts, loads and replays every one of `ids`.
async fn all_served(
    store: &RedisSessionStore,
    log: &RedisEventLog,
    ids: &[String],
) -> Result<(), String> {
    let count = store.count().await.map_err(|e| e.to_string())?;
    if count != ids.len() {
        return Err(format!("count {count}"));
    }
    for id in ids {
        if store.load(id).await.map_err(|e| e.to_string())?.is_none() {
            return Err(format!("{id} not found"));
        }
        let events = log.read_after(id, EventId { stream: 0, seq: 0 }).await;
        let n = events.map_err(|e| e.to_string())?.len();
        if n != 1 {
            return Err(format!("{id}: {n} events"));
        }
    }
    Ok(())
}
