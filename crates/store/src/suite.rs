//! A behaviour suite every `SessionStore` backend must pass; backends call
//! it from their own tests so memory, file and Redis agree.
//!
//! Test code: compiled only with the `testing` feature, which backends
//! enable in their `[dev-dependencies]`, so it is in no release build.

use crate::session::{Expiry, Quota, SessionRecord, SessionStore, StoreError, Updated};

fn record(id: &str, created: u64) -> SessionRecord {
    let raw = |s: &str| serde_json::value::RawValue::from_string(s.to_owned()).expect("valid JSON");
    let mut r = SessionRecord::new(
        id.to_owned(),
        "2025-11-25",
        raw(r#"{"sampling":{}}"#),
        raw(r#"{"name":"t"}"#),
        None,
    );
    r.created_at_ms = created;
    r.last_seen_ms = created;
    r
}

fn rule(idle_before_ms: u64, created_before_ms: u64, uninitialized_before_ms: u64) -> Expiry {
    Expiry {
        idle_before_ms,
        created_before_ms,
        uninitialized_before_ms,
        untethered_before_ms: 0,
    }
}

/// Run every check against `store`, which must start empty.
pub async fn session_store_suite(store: &dyn SessionStore) {
    // create / load / duplicate
    store.create(record("a", 1_000)).await.expect("create");
    assert!(matches!(
        store.create(record("a", 1_000)).await,
        Err(StoreError::Exists)
    ));
    let a = store.load("a").await.expect("load").expect("present");
    assert_eq!(a.protocol_version, "2025-11-25");
    assert_eq!(a.client_capabilities.get(), r#"{"sampling":{}}"#);
    assert!(store.load("nope").await.expect("load").is_none());
    let ids = ["nope", "a", "other"].map(String::from);
    assert_eq!(store.held(&ids).await.expect("held"), [false, true, false]);
    assert!(store.held(&[]).await.expect("held").is_empty());

    // update / touch
    let mut a2 = a.clone();
    a2.log_level = Some("debug".into());
    a2.subscriptions.push("test://x".into());
    assert!(store.update(&a2).await.expect("update"));
    let a3 = store.load("a").await.unwrap().unwrap();
    assert_eq!(a3.log_level.as_deref(), Some("debug"));
    assert_eq!(a3.subscriptions, ["test://x"]);
    assert!(store.touch("a", 5_000).await.unwrap());
    assert!(!store.touch("nope", 5_000).await.unwrap());
    let touched = store.load_and_touch("a", 6_000).await.unwrap().unwrap();
    assert_eq!(touched.last_seen_ms, 6_000);
    assert_eq!(touched.log_level.as_deref(), Some("debug"));
    assert_eq!(store.load("a").await.unwrap().unwrap().last_seen_ms, 6_000);
    // `last seen` never goes back, and a missing session is not made.
    let earlier = store.load_and_touch("a", 5_500).await.unwrap().unwrap();
    assert_eq!(earlier.last_seen_ms, 6_000);
    assert!(store.load_and_touch("nope", 6_000).await.unwrap().is_none());
    assert!(store.load("nope").await.unwrap().is_none());
    assert!(!store.update(&record("ghost", 1)).await.unwrap());
    assert!(
        store.load("ghost").await.unwrap().is_none(),
        "update must not create"
    );

    // scan pages cover everything once
    for i in 0..25 {
        store
            .create(record(&format!("s{i:02}"), 2_000))
            .await
            .unwrap();
    }
    assert_eq!(store.count().await.unwrap(), 26);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.scan(cursor.as_deref(), 10).await.unwrap();
        assert!(page.items.len() <= 10);
        seen.extend(page.items.into_iter().map(|r| r.id));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 26);

    // the longest-idle session, if idle long enough
    assert_eq!(
        store.longest_idle(1_500).await.unwrap(),
        None,
        "nothing idle since before 1500"
    );
    store.touch("s03", 2_500).await.unwrap();
    let idle = store.longest_idle(3_000).await.unwrap().unwrap();
    assert!(idle.starts_with('s') && idle != "s03", "{idle}");

    // expire by idleness and by age
    let gone = store.expire(rule(3_000, 0, 0)).await.unwrap();
    assert_eq!(
        gone.len(),
        25,
        "the s* sessions were last seen at 2000 or 2500; a at 5000"
    );
    assert!(store.load("a").await.unwrap().is_some());
    let gone = store.expire(rule(0, 1_001, 0)).await.unwrap();
    assert_eq!(gone, ["a"], "created at 1000, before 1001");

    // sessions that never completed initialize, past their grace
    store.create(record("pending", 10_000)).await.unwrap();
    let mut done = record("done", 10_000);
    done.initialized = true;
    store.create(done).await.unwrap();
    let gone = store.expire(rule(0, 0, 10_001)).await.unwrap();
    assert_eq!(gone, ["pending"]);
    store.delete("done").await.unwrap();

    // tethered sessions, past their last renewal; a renewal keeps one,
    // and renews nothing gone
    let tethered = |id: &str| {
        let mut r = record(id, 20_000);
        r.initialized = true;
        r.tethered = true;
        r
    };
    store.create(tethered("held")).await.unwrap();
    store.create(tethered("dead")).await.unwrap();
    let mut loose = record("loose", 20_000);
    loose.initialized = true;
    store.create(loose).await.unwrap();
    let ids = ["held", "gone"].map(String::from);
    store.renew(&ids, 25_000).await.unwrap();
    assert!(
        store.load("gone").await.unwrap().is_none(),
        "renew must not create"
    );
    let untethered = |before| Expiry {
        untethered_before_ms: before,
        ..rule(0, 0, 0)
    };
    assert_eq!(store.expire(untethered(24_000)).await.unwrap(), ["dead"]);
    assert_eq!(
        store.load("held").await.unwrap().unwrap().last_seen_ms,
        25_000
    );
    assert_eq!(store.expire(untethered(26_000)).await.unwrap(), ["held"]);
    assert!(store.load("loose").await.unwrap().is_some(), "not tethered");
    store.delete("loose").await.unwrap();

    // delete
    store.create(record("d", 1)).await.unwrap();
    assert!(store.delete("d").await.unwrap());
    assert!(!store.delete("d").await.unwrap());
    assert_eq!(store.count().await.unwrap(), 0);
}

/// The record bound [`record_bound_suite`] is meant to run with.
pub const RECORD_BOUND: usize = 4096;

/// A record of `id` whose [`SessionRecord::stored_bytes`] is exactly
/// `bytes` (its `clientInfo` padded), if it can be that small.
pub fn record_of_size(id: &str, bytes: usize) -> SessionRecord {
    let with_pad = |n: usize| {
        let info = format!(r#"{{"name":"t","pad":"{}"}}"#, "x".repeat(n));
        let raw = serde_json::value::RawValue::from_string(info).expect("valid JSON");
        let mut r = record(id, 1_000);
        r.client_info = raw;
        r
    };
    let base = with_pad(0).stored_bytes();
    let r = with_pad(bytes.checked_sub(base).expect("a record this small"));
    assert_eq!(r.stored_bytes(), bytes);
    r
}

/// Check that `store`, built to keep records of at most `max` bytes (use
/// [`RECORD_BOUND`]), refuses larger ones however they come — create,
/// create within quotas, update, update within quotas — and leaves what it
/// held unchanged. `store` must start empty.
pub async fn record_bound_suite(store: &dyn SessionStore, max: usize) {
    let too_large = |r: Result<(), StoreError>, expected: usize| match r {
        Err(StoreError::TooLarge { bytes, max: m }) => assert_eq!((bytes, m), (expected, max)),
        other => panic!("expected TooLarge, got {other:?}"),
    };
    let quota = [Quota {
        group: "identity:bound".into(),
        max: 10,
        max_bytes: None,
    }];
    // A record at the bound is kept; one byte more is not, by either door.
    store
        .create(record_of_size("fits", max))
        .await
        .expect("a record at the bound");
    too_large(store.create(record_of_size("big", max + 1)).await, max + 1);
    too_large(
        store
            .create_within(record_of_size("big", max + 1), &quota)
            .await
            .map(drop),
        max + 1,
    );
    assert!(store.load("big").await.expect("load").is_none());
    assert_eq!(store.count().await.expect("count"), 1);

    // A kept record may not grow past the bound (more subscriptions, a
    // larger clientInfo): the stored one stays as it was.
    let small = record_of_size("grows", max / 2);
    store.create(small.clone()).await.expect("create");
    let mut grown = small.clone();
    grown.subscriptions.push("x".repeat(max / 2));
    let bytes = grown.stored_bytes();
    assert!(bytes > max);
    too_large(store.update(&grown).await.map(drop), bytes);
    too_large(store.update_within(&grown, &quota).await.map(drop), bytes);
    let kept = store.load("grows").await.expect("load").expect("present");
    assert_eq!(kept.stored_bytes(), max / 2);
    assert!(kept.subscriptions.is_empty());
    // Up to the bound it may grow.
    let full = record_of_size("grows", max);
    assert_eq!(
        store.update_within(&full, &quota).await.expect("update"),
        Updated::Yes
    );
    assert_eq!(
        store
            .load("grows")
            .await
            .expect("load")
            .expect("present")
            .stored_bytes(),
        max
    );
    for id in ["fits", "grows"] {
        assert!(store.delete(id).await.expect("delete"));
    }
}

/// A task record of `principal`, created now, living `ttl_ms`.
pub fn task(id: &str, principal: &str, ttl_ms: u64) -> crate::task::TaskRecord {
    let now = crate::session::now_ms();
    crate::task::TaskRecord {
        id: id.to_owned(),
        principal: principal.to_owned(),
        tenant: "t".into(),
        subject: "s".into(),
        scopes: Vec::new(),
        claims: None,
        server: None,
        status: crate::task::TaskStatus::Working,
        tool: "slow_compute".into(),
        arguments: serde_json::json!({"seconds": 1}),
        client_capabilities: serde_json::json!({}),
        responses: serde_json::Map::new(),
        input_requests: serde_json::Map::new(),
        result: None,
        error: None,
        created_ms: now,
        updated_ms: now,
        ttl_ms,
        owner: None,
        lease_until_ms: 0,
        runs: 0,
    }
}

/// Run every check against `store`, which must start empty.
pub async fn task_store_suite(store: &dyn crate::task::TaskStore) {
    use crate::session::{Admitted, Quota};
    use crate::task::TaskStatus;
    let quota = |p: &str, max| Quota {
        group: p.to_owned(),
        max,
        max_bytes: None,
    };
    let a = task("ta", "p1", 60_000);
    assert_eq!(
        store.create(&a, &quota("p1", 2)).await.unwrap(),
        Admitted::Yes
    );
    assert!(matches!(
        store.create(&a, &quota("p1", 5)).await,
        Err(StoreError::Exists)
    ));
    let got = store.load("ta").await.unwrap().expect("stored");
    assert_eq!((got.version, &got.record), (1, &a));
    assert!(store.load("nope").await.unwrap().is_none());

    // The quota counts the principal's live tasks only.
    let b = task("tb", "p1", 60_000);
    assert_eq!(
        store.create(&b, &quota("p1", 2)).await.unwrap(),
        Admitted::Yes
    );
    let c = task("tc", "p1", 60_000);
    assert_eq!(
        store.create(&c, &quota("p1", 2)).await.unwrap(),
        Admitted::Refused(0)
    );
    assert!(store.load("tc").await.unwrap().is_none());
    let other = task("tc", "p2", 60_000);
    assert_eq!(
        store.create(&other, &quota("p2", 2)).await.unwrap(),
        Admitted::Yes
    );

    // Compare-and-swap: the stale version loses.
    let mut done = got.record.clone();
    done.status = TaskStatus::Completed;
    done.result = Some(serde_json::json!({"content": []}));
    assert!(store.swap(1, &done).await.unwrap());
    let mut late = got.record.clone();
    late.status = TaskStatus::Cancelled;
    assert!(!store.swap(1, &late).await.unwrap(), "stale version");
    let now = store.load("ta").await.unwrap().unwrap();
    assert_eq!((now.version, now.record.status), (2, TaskStatus::Completed));
    assert!(!store.swap(1, &task("ghost", "p1", 1)).await.unwrap());
    assert!(
        store.load("ghost").await.unwrap().is_none(),
        "swap must not create"
    );

    // Expired tasks are gone and no longer count.
    let short = task("td", "p3", 1);
    assert_eq!(
        store.create(&short, &quota("p3", 1)).await.unwrap(),
        Admitted::Yes
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(store.load("td").await.unwrap().is_none());
    let again = task("te", "p3", 60_000);
    assert_eq!(
        store.create(&again, &quota("p3", 1)).await.unwrap(),
        Admitted::Yes
    );
    orphan_checks(store).await;
    list_checks(store).await;
}

/// `list` pages through one principal's live tasks by id.
async fn list_checks(store: &dyn crate::task::TaskStore) {
    let quota = crate::session::Quota {
        group: "p-list".into(),
        max: 100,
        max_bytes: None,
    };
    for id in ["l3", "l1", "l2"] {
        store
            .create(&task(id, "p-list", 60_000), &quota)
            .await
            .unwrap();
    }
    let ids = |v: Vec<crate::task::TaskRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list("p-list", None, 2).await.unwrap()),
        ["l1", "l2"]
    );
    assert_eq!(
        ids(store.list("p-list", Some("l2"), 2).await.unwrap()),
        ["l3"]
    );
    assert!(
        store
            .list("p-list", Some("l3"), 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list("nobody", None, 2).await.unwrap().is_empty());
}

/// `orphans` names the working tasks whose lease ran out, and only those,
/// at most `max` of them.
async fn orphan_checks(store: &dyn crate::task::TaskStore) {
    use crate::session::{Quota, now_ms};
    use crate::task::TaskStatus;
    let quota = Quota {
        group: "p9".into(),
        max: 100,
        max_bytes: None,
    };
    let far = now_ms() + 600_000;
    let mut live = task("o-live", "p9", 3_600_000);
    (live.owner, live.lease_until_ms) = (Some("n1".into()), far);
    let mut lapsed = task("o-lapsed", "p9", 3_600_000);
    (lapsed.owner, lapsed.lease_until_ms) = (Some("n1".into()), 5);
    for t in [&live, &lapsed] {
        store.create(t, &quota).await.unwrap();
    }
    let sorted = |mut v: Vec<String>| {
        v.retain(|id| id.starts_with("o-"));
        v.sort();
        v
    };
    let found = sorted(store.orphans(now_ms(), 100).await.unwrap());
    assert_eq!(found, ["o-lapsed"]);
    // A live lease that runs out later is found then.
    let later = sorted(store.orphans(far + 1, 100).await.unwrap());
    assert_eq!(later, ["o-lapsed", "o-live"]);
    // Claimed (a fresh lease), then finished: no longer an orphan.
    let v = store.load("o-lapsed").await.unwrap().unwrap();
    let mut claimed = v.record.clone();
    (claimed.owner, claimed.lease_until_ms) = (Some("n2".into()), far);
    assert!(store.swap(v.version, &claimed).await.unwrap());
    assert!(sorted(store.orphans(now_ms(), 100).await.unwrap()).is_empty());
    let mut done = claimed.clone();
    done.status = TaskStatus::Completed;
    assert!(store.swap(v.version + 1, &done).await.unwrap());
    let later = sorted(store.orphans(far + 1, 100).await.unwrap());
    assert_eq!(later, ["o-live"]);
    // Bounded.
    for i in 0..3 {
        store
            .create(&task(&format!("o-n{i}"), "p9", 60_000), &quota)
            .await
            .unwrap();
    }
    assert_eq!(store.orphans(now_ms(), 2).await.unwrap().len(), 2);
}

/// Run every check of an entry store against `store`, which must start
/// empty.
pub async fn entry_store_suite(store: &dyn crate::EntryStore) {
    assert!(store.get("acme", "alice\0web").await.unwrap().is_none());
    assert!(store.names("acme").await.unwrap().is_empty());
    store.put("acme", "alice\0web", b"sealed-1").await.unwrap();
    store.put("acme", "bob\0web", &[0, 255, 7]).await.unwrap();
    store.put("globex", "alice\0web", b"other").await.unwrap();
    assert_eq!(
        store.get("acme", "alice\0web").await.unwrap().as_deref(),
        Some(&b"sealed-1"[..])
    );
    assert_eq!(
        store.get("acme", "bob\0web").await.unwrap().as_deref(),
        Some(&[0u8, 255, 7][..]),
        "bytes kept as they are"
    );
    // Tenants are apart.
    assert_eq!(
        store.get("globex", "alice\0web").await.unwrap().as_deref(),
        Some(&b"other"[..])
    );
    assert_eq!(
        store.names("acme").await.unwrap(),
        ["alice\0web", "bob\0web"]
    );
    assert_eq!(
        store.entries("acme").await.unwrap(),
        [
            ("alice\0web".to_owned(), b"sealed-1".to_vec()),
            ("bob\0web".to_owned(), vec![0, 255, 7]),
        ]
    );
    // Replaced, then removed once.
    store.put("acme", "alice\0web", b"sealed-2").await.unwrap();
    assert_eq!(
        store.get("acme", "alice\0web").await.unwrap().as_deref(),
        Some(&b"sealed-2"[..])
    );
    assert!(store.delete("acme", "alice\0web").await.unwrap());
    assert!(!store.delete("acme", "alice\0web").await.unwrap());
    assert!(store.get("acme", "alice\0web").await.unwrap().is_none());
    assert_eq!(store.names("acme").await.unwrap(), ["bob\0web"]);
    assert!(store.delete("acme", "bob\0web").await.unwrap());
    assert!(store.names("acme").await.unwrap().is_empty());
    assert_eq!(store.names("globex").await.unwrap(), ["alice\0web"]);
    assert!(!store.delete("nobody", "x").await.unwrap());
}
