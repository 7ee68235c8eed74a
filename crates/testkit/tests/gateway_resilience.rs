//! The gateway under pressure, with real child processes (the upstream
//! crate's Python fixture): a full pool serves its waiters in arrival order
//! and refuses past its deadline, a crash-looping upstream is held back,
//! shared processes are restarted, an upstream's concurrency cap holds
//! across tenants, only idempotent requests are retried, the upstream
//! families of `/metrics` move, and upstream tool calls are audited by
//! name. Order and limits are checked by sequence and counts, not by time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_runtime::{CatalogBuilder, Provider};
use switchboard_server::{AnonymousMode, Config};
use switchboard_testkit::{McpClient, ModernClient, TestServer, tenant_with_key};
use switchboard_upstream::gateway::{PoolMode, StdioProvider, UpstreamConfig};

use crate::fixture_upstream;
use fixture_upstream::{call, fixture, value};

async fn gateway_with(
    upstream: UpstreamConfig,
    config: Config,
) -> (TestServer, Arc<StdioProvider>) {
    let p = Arc::new(StdioProvider::new(upstream));
    p.probe().await.expect("upstream starts");
    let server = TestServer::with(config, CatalogBuilder::new().provider(p.clone())).await;
    (server, p)
}

async fn gateway(upstream: UpstreamConfig) -> (TestServer, Arc<StdioProvider>) {
    gateway_with(upstream, Config::default()).await
}

async fn session(server: &TestServer) -> McpClient {
    let mut c = server.client();
    c.initialize(json!({})).await;
    c
}

fn message(resp: &Value) -> String {
    resp["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Poll `done` (every 20 ms, up to 15 s): for state that settles in the
/// background. Nothing is asserted about how long it took.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..750 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-resilience-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_serves_its_waiters_in_arrival_order() {
    let mut one = fixture("up");
    one.max_processes = 1;
    one.pool_wait_ms = 60_000;
    let (server, p) = gateway(one).await;
    let a = session(&server).await;
    assert!(value(&call(&a, "up__pid", json!({})).await).is_u64());

    // b, c and d queue for the one process, in that order.
    let served = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for (n, name) in ["b", "c", "d"].into_iter().enumerate() {
        let c = Arc::new(session(&server).await);
        let (cc, served) = (c.clone(), served.clone());
        let task = tokio::spawn(async move {
            let resp = call(&cc, "up__pid", json!({})).await;
            served.lock().unwrap().push(name);
            resp
        });
        until("the waiter queued", || p.waiting() == n + 1).await;
        waiters.push((c, task));
    }
    assert!(served.lock().unwrap().is_empty());

    // Each ended session hands its slot to the longest waiter.
    assert_eq!(a.delete().await, StatusCode::OK);
    for (n, expected) in ["b", "c", "d"].into_iter().enumerate() {
        until("the next waiter is served", || {
            served.lock().unwrap().len() == n + 1
        })
        .await;
        assert_eq!(
            served.lock().unwrap()[n],
            expected,
            "served in arrival order"
        );
        let (c, task) = &mut waiters[n];
        let resp = task.await.unwrap();
        assert!(value(&resp).is_u64(), "{resp}");
        assert_eq!(p.waiting(), 2 - n);
        assert_eq!(c.delete().await, StatusCode::OK);
    }
    server.stop().await;
}

/// With a warm process in play: a stateless caller (who may take a warm
/// process) arriving after a waiting session does not get ahead of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateless_caller_does_not_pass_a_waiting_session() {
    let mut two = fixture("up");
    two.max_processes = 2; // a warm process and one session
    two.pool_wait_ms = 60_000;
    let (server, p) = gateway(two).await;
    let a = session(&server).await;
    let b = session(&server).await;
    // a takes the free slot, b the warm process's.
    assert!(value(&call(&a, "up__pid", json!({})).await).is_u64());
    assert!(value(&call(&b, "up__pid", json!({})).await).is_u64());
    let served = Arc::new(Mutex::new(Vec::new()));
    let c = Arc::new(session(&server).await);
    let (cc, log) = (c.clone(), served.clone());
    let waiting_session = tokio::spawn(async move {
        let resp = call(&cc, "up__pid", json!({})).await;
        log.lock().unwrap().push("session");
        resp
    });
    until("the session queued", || p.waiting() == 1).await;
    let log = served.clone();
    let url = server.url();
    let stateless = tokio::spawn(async move {
        let m = ModernClient::new(&url);
        let (resp, _) = m
            .call("tools/call", json!({"name": "up__pid", "arguments": {}}))
            .await;
        log.lock().unwrap().push("stateless");
        resp
    });
    until("the stateless caller queued", || p.waiting() == 2).await;
    assert_eq!(a.delete().await, StatusCode::OK);
    until("one was served", || !served.lock().unwrap().is_empty()).await;
    assert_eq!(served.lock().unwrap()[0], "session");
    assert!(value(&waiting_session.await.unwrap()).is_u64());
    assert_eq!(b.delete().await, StatusCode::OK);
    let resp = stateless.await.unwrap();
    assert!(value(&resp).is_u64(), "{resp}");
    assert_eq!(*served.lock().unwrap(), ["session", "stateless"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_past_the_pool_deadline_is_told_the_pool_is_full() {
    let mut one = fixture("up");
    one.max_processes = 1;
    one.pool_wait_ms = 100;
    let (server, p) = gateway(one).await;
    let a = session(&server).await;
    assert_eq!(value(&call(&a, "up__count", json!({})).await), 1);
    let b = session(&server).await;
    let resp = call(&b, "up__count", json!({})).await;
    assert_eq!(resp["error"]["code"], -32000, "{resp}");
    let m = message(&resp);
    assert!(
        m.contains("pool full") && m.contains("in use") && m.contains("retry"),
        "{resp}"
    );
    assert_eq!(p.waiting(), 0, "the waiter left the queue");
    // a's process is untouched.
    assert_eq!(value(&call(&a, "up__count", json!({})).await), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loop_is_held_back_by_a_growing_backoff() {
    let mut up = fixture("up");
    up.pool_wait_ms = 1_000;
    up.breaker_failures = 1_000;
    let (server, p) = gateway(up).await;
    let c = session(&server).await;
    // Every process dies right after it starts (the call crashes it):
    // restarts wait 100 ms, 200 ms, 400 ms, 800 ms…; once the wait would
    // pass the caller's 1 s deadline the call is refused at once.
    let mut refused = None;
    for _ in 0..12 {
        let resp = call(&c, "up__crash", json!({})).await;
        let m = message(&resp);
        assert!(resp["error"].is_object(), "{resp}");
        if m.contains("keeps failing") {
            refused = Some(resp);
            break;
        }
        assert!(m.contains("exited"), "{resp}");
    }
    let refused = refused.expect("the backoff outgrew the deadline");
    assert_eq!(refused["error"]["code"], -32000, "{refused}");
    assert!(message(&refused).contains("retry in"), "{refused}");
    assert!(p.health().restarts >= 3, "{:?}", p.health());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_shared_process_is_restarted_by_the_supervisor() {
    let mut shared = fixture("up");
    shared.mode = PoolMode::Shared;
    let (server, p) = gateway(shared).await;
    let c = session(&server).await;
    let pid = value(&call(&c, "up__pid", json!({})).await)
        .as_u64()
        .unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    // No call needed: the supervisor notices and starts a new one.
    until("the shared process was restarted", || {
        p.health().restarts == 1 && p.processes() == 1
    })
    .await;
    let new_pid = value(&call(&c, "up__pid", json!({})).await)
        .as_u64()
        .unwrap();
    assert_ne!(new_pid, pid);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrency_holds_across_tenants_and_both_progress() {
    let mut up = fixture("up");
    // One shared process sees every call: it reports the most it ran at
    // once.
    up.mode = PoolMode::Shared;
    up.max_concurrency = 1;
    up.pool_wait_ms = 60_000;
    let (acme, acme_key) = tenant_with_key("acme", "acme-key");
    let (globex, globex_key) = tenant_with_key("globex", "globex-key");
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    config.tenants = vec![acme, globex];
    let (server, p) = gateway_with(up, config).await;
    let mut clients = Vec::new();
    for key in [&acme_key, &globex_key] {
        let mut c = McpClient::with_token(&server.url(), key);
        c.initialize(json!({})).await;
        clients.push(Arc::new(c));
    }
    let mut calls = Vec::new();
    for round in 0..4 {
        for c in &clients {
            let c = c.clone();
            calls.push(tokio::spawn(async move {
                call(&c, "up__concurrency", json!({"ms": 20 + round})).await
            }));
        }
    }
    for task in calls {
        let resp = task.await.unwrap();
        assert_eq!(value(&resp), 1, "never two at once upstream: {resp}");
    }
    assert_eq!(p.in_flight(), Some(0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_retried_once_after_a_crash_and_tool_calls_never() {
    let flaky = temp_path("flaky");
    let once = temp_path("once");
    let mut up = fixture("up");
    up.args.push("--flaky".into());
    up.args.push(flaky.to_string_lossy().into_owned());
    let (server, p) = gateway(up).await;
    let c = session(&server).await;

    // The first read kills its process; the read is sent again to a fresh
    // one and answers.
    let (resp, _) = c
        .call("resources/read", json!({"uri": "fixture://flaky"}))
        .await;
    assert_eq!(
        resp["result"]["contents"][0]["text"], "read after a restart",
        "{resp}"
    );
    assert!(flaky.exists(), "the first process did die");

    // A tool call that kills its process is not sent again: it would
    // have answered "ran again".
    let resp = call(
        &c,
        "up__crash_once",
        json!({"file": once.to_string_lossy()}),
    )
    .await;
    assert!(message(&resp).contains("exited"), "{resp}");
    assert!(once.exists());
    // The client's next call is its own, and runs on a fresh process.
    let resp = call(
        &c,
        "up__crash_once",
        json!({"file": once.to_string_lossy()}),
    )
    .await;
    assert_eq!(value(&resp), "ran again", "{resp}");
    assert!(p.health().restarts >= 2, "{:?}", p.health());
    server.stop().await;
}

/// A list whose process dies under it is fetched again from a fresh one:
/// without the retry the upstream's tools would be left out of the merged
/// list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_is_retried_once_after_a_crash() {
    let armed = temp_path("armed");
    let mut up = fixture("up");
    up.args.push("--flaky-list".into());
    up.args.push(armed.to_string_lossy().into_owned());
    let (server, p) = gateway(up).await;
    let c = session(&server).await;
    // The upstream says its tools changed: the next tools/list goes to it.
    assert_eq!(value(&call(&c, "up__changed", json!({})).await), "sent");
    std::fs::write(&armed, "armed").unwrap();
    let before = p.health().restarts;
    let (list, _) = c.call("tools/list", json!({})).await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"up__count"), "{list}");
    assert_eq!(std::fs::read_to_string(&armed).unwrap(), "fired");
    assert_eq!(p.health().restarts, before + 1, "{:?}", p.health());
    server.stop().await;
}

async fn scrape(server: &TestServer) -> String {
    reqwest::get(format!("http://{}/metrics", server.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the sample named exactly `series` (0 if absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_families_move() {
    let (server, _p) = gateway(fixture("up")).await;
    let c = session(&server).await;
    assert_eq!(value(&call(&c, "up__count", json!({})).await), 1);
    let crashed = call(&c, "up__crash", json!({})).await;
    assert!(message(&crashed).contains("exited"), "{crashed}");
    assert_eq!(value(&call(&c, "up__count", json!({})).await), 1);
    assert_eq!(c.delete().await, StatusCode::OK);
    let text = scrape(&server).await;
    let up = r#"{upstream="up"}"#;
    let calls = r#"{upstream="up",method="tools/call"}"#;
    for family in [
        "switchboard_upstream_processes_starting",
        "switchboard_upstream_processes_idle",
        "switchboard_upstream_process_restarts_total",
        "switchboard_upstream_process_kills_total",
        "switchboard_upstream_pool_wait_seconds_count",
    ] {
        assert!(
            text.contains(&format!("{family}{up}")),
            "{family} in\n{text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            &format!("switchboard_upstream_request_duration_seconds_count{calls}")
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"switchboard_upstream_errors_total{upstream="up",method="tools/call",reason="exited"}"#
        ),
        1.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            &format!("switchboard_upstream_pool_wait_seconds_count{up}")
        ) >= 2.0
    );
    assert_eq!(
        sample(
            &text,
            &format!("switchboard_upstream_process_restarts_total{up}")
        ),
        1.0
    );
    assert!(
        sample(
            &text,
            &format!("switchboard_upstream_process_kills_total{up}")
        ) >= 1.0
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_tool_call_is_audited_by_name() {
    let path = temp_path("audit.jsonl");
    let mut config = Config::default();
    config.auth.audit = path.to_string_lossy().into_owned();
    let (server, _p) = gateway_with(fixture("up"), config).await;
    let c = session(&server).await;
    assert_eq!(value(&call(&c, "up__count", json!({})).await), 1);
    let mut line = Value::Null;
    for _ in 0..500 {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(l) = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["event"] == "tool_call")
        {
            line = l;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(line["tool"], "up__count", "{line}");
    assert_eq!(line["outcome"], "ok", "{line}");
    server.stop().await;
}
