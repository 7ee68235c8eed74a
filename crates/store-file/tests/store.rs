//! The file backend against the store behaviour suite, its event log
//! against the memory log's rules, and a reopen of the same file.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::value::RawValue;
use switchboard_store::{EventId, EventLog, SessionRecord, SessionStore};
use switchboard_store_file::FileStore;

/// A fresh database path, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "switchboard-store-file-{}-{n}-{name}.redb",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn record(id: &str, at: u64) -> SessionRecord {
    let raw = |s: &str| RawValue::from_string(s.to_owned()).expect("valid JSON");
    let mut r = SessionRecord::new(
        id.to_owned(),
        "2025-06-18",
        raw(r#"{"roots":{}}"#),
        raw(r#"{"name":"c"}"#),
        Some("p".into()),
    );
    r.created_at_ms = at;
    r.last_seen_ms = at;
    r
}

fn stream_start(stream: u64) -> EventId {
    EventId { stream, seq: 0 }
}

#[tokio::test]
async fn passes_the_store_suite() {
    let file = TempFile::new("suite");
    let store = FileStore::open(&file.0).expect("open");
    switchboard_store::suite::session_store_suite(&store.sessions()).await;
}

#[tokio::test]
async fn passes_the_entries_suite_in_each_space_and_keeps_entries_across_a_reopen() {
    use switchboard_store::{EntryStore, Space};
    let file = TempFile::new("vault");
    {
        let store = FileStore::open(&file.0).expect("open");
        for space in [Space::Vault, Space::Pins] {
            switchboard_store::suite::entry_store_suite(&store.entries(space)).await;
        }
        store
            .entries(Space::Vault)
            .put("acme", "alice\0web", b"kept")
            .await
            .unwrap();
    }
    let reopened = FileStore::open(&file.0).expect("reopen");
    assert_eq!(
        reopened
            .entries(Space::Vault)
            .get("acme", "alice\0web")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"kept"[..])
    );
    // Spaces are apart.
    assert!(
        reopened
            .entries(Space::Pins)
            .get("acme", "alice\0web")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn keeps_no_record_over_its_bound() {
    let file = TempFile::new("bound");
    let max = switchboard_store::suite::RECORD_BOUND;
    let store = FileStore::open(&file.0).expect("open");
    let sessions = store.sessions().with_max_record_bytes(max);
    switchboard_store::suite::record_bound_suite(&sessions, max).await;
}

#[tokio::test]
async fn touch_moves_last_seen_forward_only() {
    let file = TempFile::new("touch");
    let store = FileStore::open(&file.0).expect("open").sessions();
    store.create(record("a", 1_000)).await.expect("create");
    assert!(store.touch("a", 5_000).await.expect("touch"));
    assert!(store.touch("a", 3_000).await.expect("touch"), "still there");
    assert_eq!(store.load("a").await.unwrap().unwrap().last_seen_ms, 5_000);
    assert_eq!(
        store.longest_idle(5_001).await.unwrap().as_deref(),
        Some("a")
    );
    assert_eq!(store.longest_idle(5_000).await.unwrap(), None);
    assert!(store.delete("a").await.unwrap());
    assert!(!store.touch("a", 6_000).await.unwrap(), "gone");
    assert_eq!(store.count().await.unwrap(), 0, "touch brings nothing back");
}

#[tokio::test]
async fn event_log_replays_per_stream_and_is_bounded() {
    let file = TempFile::new("events");
    let store = FileStore::open(&file.0).expect("open");
    let log = store.event_log(100, 1 << 20).expect("log");
    let a1 = log.append("s", 1, "a1".into()).await.unwrap();
    let b1 = log.append("s", 2, "b1".into()).await.unwrap();
    let a2 = log.append("s", 1, "a2".into()).await.unwrap();
    assert_eq!(
        (a1.to_string(), b1.to_string(), a2.to_string()),
        ("1-1".into(), "2-1".into(), "1-2".into())
    );
    let all = log.read_after("s", stream_start(1)).await.unwrap();
    let datas: Vec<&str> = all.iter().map(|e| &*e.data).collect();
    assert_eq!(datas, ["a1", "a2"]);
    assert_eq!(log.read_after("s", a1).await.unwrap().len(), 1);
    assert!(log.read_after("other", a1).await.unwrap().is_empty());
    assert_eq!(log.bytes(), 6);

    let counted = store.event_log(3, 1 << 20).expect("log");
    for i in 0..10 {
        counted.append("c", 1, format!("{i}").into()).await.unwrap();
    }
    let kept = counted.read_after("c", stream_start(1)).await.unwrap();
    let datas: Vec<&str> = kept.iter().map(|e| &*e.data).collect();
    assert_eq!(datas, ["7", "8", "9"], "the oldest go first");

    let sized = store.event_log(100, 10).expect("log");
    for _ in 0..10 {
        sized.append("b", 1, "abcd".into()).await.unwrap();
    }
    assert_eq!(
        sized.read_after("b", stream_start(1)).await.unwrap().len(),
        2
    );
    let before = sized.bytes();
    sized.drop_session("b").await.unwrap();
    assert_eq!(before - sized.bytes(), 8, "the dropped log's bytes");
    assert!(
        sized
            .read_after("b", stream_start(1))
            .await
            .unwrap()
            .is_empty()
    );
    let again = sized.append("b", 1, "x".into()).await.unwrap();
    assert_eq!(again.seq, 1, "a dropped log starts over");
}

#[tokio::test]
async fn everything_is_there_after_a_reopen() {
    let file = TempFile::new("reopen");
    {
        let store = FileStore::open(&file.0).expect("open");
        let sessions = store.sessions();
        let mut a = record("a", 1_000);
        a.initialized = true;
        a.log_level = Some("info".into());
        a.subscriptions.push("test://r".into());
        sessions.create(a).await.unwrap();
        sessions.create(record("b", 2_000)).await.unwrap();
        sessions.touch("a", 9_000).await.unwrap();
        let log = store.event_log(100, 1 << 20).unwrap();
        log.append("a", 1, "one".into()).await.unwrap();
        log.append("a", 1, "two".into()).await.unwrap();
        log.append("a", 3, "three".into()).await.unwrap();
        assert!(
            FileStore::open(&file.0).is_err(),
            "a second opener of the same file is refused"
        );
    }
    let store = FileStore::open(&file.0).expect("reopen");
    let sessions = store.sessions();
    assert_eq!(sessions.count().await.unwrap(), 2);
    let a = sessions.load("a").await.unwrap().expect("a survived");
    assert_eq!(a.protocol_version, "2025-06-18");
    assert_eq!(a.client_capabilities.get(), r#"{"roots":{}}"#);
    assert_eq!(a.principal.as_deref(), Some("p"));
    assert!(a.initialized);
    assert_eq!(a.log_level.as_deref(), Some("info"));
    assert_eq!(a.subscriptions, ["test://r"]);
    assert_eq!(a.last_seen_ms, 9_000, "the touch survived");
    assert_eq!(
        sessions.longest_idle(5_000).await.unwrap().as_deref(),
        Some("b")
    );
    let log = store.event_log(100, 1 << 20).unwrap();
    assert_eq!(log.bytes(), 11, "the byte count is rebuilt at open");
    let replay = log.read_after("a", stream_start(1)).await.unwrap();
    let datas: Vec<&str> = replay.iter().map(|e| &*e.data).collect();
    assert_eq!(datas, ["one", "two"]);
    let next = log.append("a", 1, "four".into()).await.unwrap();
    assert_eq!(next.to_string(), "1-3", "sequence numbers continue");
}
