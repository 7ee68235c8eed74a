//! Redis killed (SIGKILL) and restarted under load (issue 7, acceptance 4):
//! while it is down every request gets an answer — a 503 with
//! `Retry-After` naming the store for those that need it, a success for
//! stateless calls to the built-in tools — and `/readyz` says why it is not
//! ready; once it is back on the same port and append-only file, the node
//! recovers by itself and every session created before the outage works.
//! Waits are bounded (a hang detector), never timed assertions.

use crate::redis_support;
use crate::support;

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis_support::RedisProcess;
use serde_json::json;
use support::Node;
use switchboard_testkit::{McpClient, ModernClient, Reply};

/// One request taking this long is a hang, not a slow answer.
const HANG: Duration = Duration::from_secs(5);
/// A generous bound on waiting for a state the node should reach.
const PATIENCE: Duration = Duration::from_secs(30);
const SESSIONS: usize = 20;
const LOADERS: usize = 6;

/// Where the test is when a request starts.
const BEFORE: u8 = 0;
const DOWN: u8 = 1;
const RESTARTING: u8 = 2;
const RECOVERED: u8 = 3;

/// What one request of the load got.
#[derive(Debug, Clone)]
struct Outcome {
    phase: u8,
    /// The HTTP status; `None` when no answer came within [`HANG`].
    status: Option<u16>,
    retry_after: bool,
    body: String,
    /// How long it took (reported, never asserted).
    took: Duration,
}

/// The load: each loader calls `echo` on the sessions in turn, one request
/// at a time, until told to stop.
struct Load {
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(url: &str, sessions: &[String]) -> Self {
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let phase = Arc::new(AtomicU8::new(BEFORE));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..LOADERS)
            .map(|n| {
                let (outcomes, phase, stop) = (outcomes.clone(), phase.clone(), stop.clone());
                let mut client = McpClient::new(url);
                let sessions = sessions.to_vec();
                tokio::spawn(async move {
                    let mut i = n;
                    while !stop.load(Ordering::Relaxed) {
                        client.session = Some(sessions[i % sessions.len()].clone());
                        i += LOADERS;
                        let at = phase.load(Ordering::Relaxed);
                        let outcome = call_echo(&client, at).await;
                        outcomes.lock().unwrap().push(outcome);
                    }
                })
            })
            .collect();
        Self {
            outcomes,
            phase,
            stop,
            tasks,
        }
    }

    fn enter(&self, phase: u8) {
        self.phase.store(phase, Ordering::Relaxed);
    }

    fn of(&self, phase: u8) -> Vec<Outcome> {
        let all = self.outcomes.lock().unwrap();
        all.iter().filter(|o| o.phase == phase).cloned().collect()
    }

    /// Wait (bounded) until `enough` holds for the outcomes of `phase`.
    async fn until(&self, phase: u8, what: &str, enough: impl Fn(&[Outcome]) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !enough(&self.of(phase)) {
            assert!(tokio::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.expect("a loader panicked");
        }
        Arc::try_unwrap(self.outcomes)
            .expect("loaders done")
            .into_inner()
            .unwrap()
    }
}

async fn call_echo(client: &McpClient, phase: u8) -> Outcome {
    let body = json!({"jsonrpc": "2.0", "id": client.id(), "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"message": "hi"}}});
    let sent = client.post().body(body.to_string()).send();
    let started = std::time::Instant::now();
    let Ok(resp) = tokio::time::timeout(HANG, sent).await else {
        return Outcome {
            phase,
            status: None,
            retry_after: false,
            body: String::new(),
            took: started.elapsed(),
        };
    };
    let resp = resp.expect("the node answers on its socket");
    let status = resp.status().as_u16();
    let retry_after = resp.headers().contains_key("retry-after");
    let body = tokio::time::timeout(HANG, resp.text())
        .await
        .ok()
        .and_then(Result::ok);
    Outcome {
        phase,
        status: body.is_some().then_some(status),
        retry_after,
        body: body.unwrap_or_default(),
        took: started.elapsed(),
    }
}

/// `/readyz`: its status and body, within the hang bound.
async fn ready(node: &Node) -> (u16, String) {
    let url = node.url.replace("/mcp", "/readyz");
    let resp = tokio::time::timeout(HANG, reqwest::get(url))
        .await
        .expect("/readyz answers")
        .expect("/readyz");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// A stateless (2026-07-28) `tools/call` of the built-in `echo`: no store.
async fn stateless_echo(node: &Node) {
    let client = ModernClient::new(&node.url);
    let params = json!({"name": "echo", "arguments": {"message": "still here"}});
    let reply = tokio::time::timeout(HANG, client.request(1, "tools/call", params))
        .await
        .expect("a stateless call answers");
    match reply {
        Reply::Json(v) => assert!(v.to_string().contains("still here"), "{v}"),
        Reply::Sse(_) => panic!("expected a JSON reply"),
        Reply::Other(s, b) => panic!("a stateless call failed with Redis down: HTTP {s}: {b}"),
    }
}

fn count(outcomes: &[Outcome], status: u16) -> usize {
    outcomes.iter().filter(|o| o.status == Some(status)).count()
}

/// Run without `redis-server` on the PATH, the outage test fails saying
/// so (it used to panic on the spawn: `start_persistent` did not check).
#[test]
fn fails_without_redis_server() {
    redis_support::assert_fails_without_redis(
        "redis_outage::redis_killed_under_load_fails_fast_then_recovers_with_every_session",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_under_load_fails_fast_then_recovers_with_every_session() {
    let dir = std::env::temp_dir().join(format!("sb-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory for the append-only file");
    let mut redis = RedisProcess::start_persistent(&dir, None).expect("redis-server");
    let server = Node::on_redis(None, &redis.url(), &redis_support::unique_prefix("outage"));
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        let mut client = McpClient::new(&server.url);
        client.initialize(json!({})).await;
        sessions.push(client.session.clone().expect("a session id"));
    }
    let load = Load::start(&server.url, &sessions);
    load.until(BEFORE, "calls served before the outage", |o| {
        count(o, 200) >= 2 * LOADERS
    })
    .await;

    redis.kill();
    load.enter(DOWN);
    load.until(DOWN, "503s while Redis is down", |o| {
        count(o, 503) >= 4 * LOADERS
    })
    .await;
    let (status, body) = ready(&server).await;
    assert_eq!(status, 503, "/readyz while Redis is down: {body}");
    assert!(body.contains("unavailable"), "{body}");
    stateless_echo(&server).await;

    load.enter(RESTARTING);
    let back = RedisProcess::start_persistent(&dir, Some(redis.port)).expect("redis-server back");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while ready(&server).await.0 != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz did not recover"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    load.until(RESTARTING, "calls served again", |o| count(o, 200) >= 1)
        .await;
    load.enter(RECOVERED);
    load.until(RECOVERED, "calls served after recovery", |o| {
        o.len() >= 4 * LOADERS
    })
    .await;
    let outcomes = load.stop().await;

    let hung = outcomes.iter().filter(|o| o.status.is_none()).count();
    assert_eq!(hung, 0, "requests without an answer within {HANG:?}");
    for o in &outcomes {
        let s = o.status.expect("answered");
        assert!(s == 200 || s == 503, "unexpected HTTP {s}: {}", o.body);
        if s == 503 {
            assert!(o.retry_after, "a 503 without Retry-After: {}", o.body);
            assert!(o.body.contains("store is unavailable"), "{}", o.body);
        }
    }
    // (Calls started before the kill may fail: Redis died under them.)
    let per_phase: Vec<_> = [BEFORE, DOWN, RESTARTING, RECOVERED]
        .iter()
        .map(|p| {
            let of: Vec<_> = outcomes.iter().filter(|o| o.phase == *p).cloned().collect();
            let slowest = of.iter().map(|o| o.took).max().unwrap_or_default();
            (count(&of, 200), count(&of, 503), slowest)
        })
        .collect();
    eprintln!("(200s, 503s, slowest) before, down, restarting, recovered: {per_phase:?}");
    let after: Vec<_> = outcomes.iter().filter(|o| o.phase == RECOVERED).collect();
    assert!(
        after.iter().all(|o| o.status == Some(200)),
        "failures after recovery: {:?}",
        after.iter().find(|o| o.status != Some(200))
    );
    // Every session created before the outage is still there.
    for id in &sessions {
        let mut client = McpClient::new(&server.url);
        client.session = Some(id.clone());
        let echoed = client.call_tool("echo", json!({"message": "again"})).await;
        assert!(echoed.to_string().contains("again"), "{echoed}");
    }
    stateless_echo(&server).await;
    drop(back);
    let _ = std::fs::remove_dir_all(&dir);
}
