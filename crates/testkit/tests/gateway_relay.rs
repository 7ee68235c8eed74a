//! Where an upstream process's own messages go. A `shared` process serving
//! several clients at once: what it sends outside any progress token (a log
//! line, a request to the client) cannot be attributed while calls of
//! different clients are in flight on it, so it reaches none of them —
//! never the wrong one. A `per_session` process asking its client something
//! right after `initialize` (before the call it was started for is
//! registered): the request waits for that call and reaches its client —
//! and a stateless client that did not declare the capability it needs
//! still gets its call's result when the upstream answered it anyway.

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_runtime::CatalogBuilder;
use switchboard_testkit::{McpClient, ModernClient, Reply, TestServer};
use switchboard_upstream::gateway::{PoolMode, StdioProvider, UpstreamConfig};

use crate::fixture_upstream;
use fixture_upstream::SCRIPT;

fn shared_fixture() -> UpstreamConfig {
    UpstreamConfig {
        name: "up".into(),
        command: "python3".into(),
        args: vec![SCRIPT.into()],
        mode: PoolMode::Shared,
        processes: 1,
        call_timeout_secs: 20,
        ..UpstreamConfig::default()
    }
}

async fn session(server: &TestServer) -> McpClient {
    let mut c = McpClient::new(&server.url());
    c.initialize(json!({})).await;
    c.notify("notifications/initialized", json!({})).await;
    c
}

/// The log lines among notifications.
fn logs(notes: &[Value]) -> Vec<String> {
    notes
        .iter()
        .filter(|n| n["method"] == "notifications/message")
        .map(|n| n["params"]["data"].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_process_never_routes_one_clients_messages_to_another() {
    let provider = Arc::new(StdioProvider::new(shared_fixture()));
    provider.probe().await.expect("upstream starts");
    let server = TestServer::with(
        switchboard_server::Config::default(),
        CatalogBuilder::new().provider(provider),
    )
    .await;
    let (a, b) = (session(&server).await, session(&server).await);

    // Alone on the process, B's late log line reaches B.
    let (r, notes) = b
        .call(
            "tools/call",
            json!({"name": "up__log_later", "arguments": {"ms": 10, "tag": "alone"}}),
        )
        .await;
    assert!(r["result"].is_object(), "{r}");
    assert_eq!(logs(&notes), [r#""later alone""#], "{notes:?}");

    // B's log line comes while A's call (newer) is in flight too: it must
    // not reach A (it may reach B only if A's call had not started yet).
    for round in 0..3 {
        let tag = format!("b{round}");
        let b_call = b.call(
            "tools/call",
            json!({"name": "up__log_later", "arguments": {"ms": 300, "tag": tag}}),
        );
        let a_call = async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            a.call(
                "tools/call",
                json!({"name": "up__slow", "arguments": {"ms": 900, "steps": 1}}),
            )
            .await
        };
        let ((rb, _), (ra, a_notes)) = tokio::join!(b_call, a_call);
        assert!(rb["result"].is_object(), "{rb}");
        assert!(ra["result"].is_object(), "{ra}");
        assert!(logs(&a_notes).is_empty(), "A got B's log line: {a_notes:?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_sent_right_after_initialize_reaches_the_sessions_client() {
    let config = UpstreamConfig {
        name: "up".into(),
        command: "python3".into(),
        args: vec![SCRIPT.into(), "--roots-on-init".into()],
        // One process: no warm process, so the session's process starts
        // with its first call.
        max_processes: 1,
        call_timeout_secs: 20,
        ..UpstreamConfig::default()
    };
    let provider = Arc::new(StdioProvider::new(config));
    provider.probe().await.expect("upstream starts");
    let server = TestServer::with(
        switchboard_server::Config::default(),
        CatalogBuilder::new().provider(provider),
    )
    .await;
    let mut c = McpClient::new(&server.url());
    c.initialize(json!({"roots": {}})).await;
    c.notify("notifications/initialized", json!({})).await;
    let Reply::Sse(mut s) = c
        .request(
            9,
            "tools/call",
            json!({"name": "up__init_roots", "arguments": {}}),
        )
        .await
    else {
        panic!("SSE expected: the upstream asks for roots first")
    };
    let req = loop {
        if let Some(v) = s.next().await.expect("an event").json() {
            break v;
        }
    };
    assert_eq!(req["method"], "roots/list", "{req}");
    let answer = json!({"jsonrpc": "2.0", "id": req["id"], "result": {"roots": [{"uri": "file:///work", "name": "work"}]}});
    let status = c.respond(&answer).await;
    assert_eq!(status, 202);
    let resp = loop {
        if let Some(v) = s
            .next()
            .await
            .expect("the response")
            .json()
            .filter(|v| v["id"] == 9)
        {
            break v;
        }
    };
    let roots = &resp["result"]["structuredContent"]["value"]["roots"];
    assert_eq!(roots[0]["uri"], "file:///work", "{resp}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprompted_request_does_not_fail_a_stateless_call_that_succeeded() {
    // The process (started for a stateless caller, so declaring everything
    // the gateway can relay) asks for roots right after `initialized`; the
    // request lands on the first call, whose client did not declare roots.
    // The upstream is told no, answers the call anyway, and the client gets
    // that answer — not a missing-capability error for a request its call
    // never made. (server-everything does exactly this.)
    let config = UpstreamConfig {
        name: "up".into(),
        command: "python3".into(),
        args: vec![SCRIPT.into(), "--roots-on-init".into()],
        max_processes: 1,
        call_timeout_secs: 20,
        ..UpstreamConfig::default()
    };
    let provider = Arc::new(StdioProvider::new(config));
    provider.probe().await.expect("upstream starts");
    let server = TestServer::with(
        switchboard_server::Config::default(),
        CatalogBuilder::new().provider(provider),
    )
    .await;
    let m = ModernClient::new(&server.url());
    let (resp, _) = m
        .call(
            "tools/call",
            json!({"name": "up__init_roots", "arguments": {}}),
        )
        .await;
    // The upstream's call saw the refusal of its roots/list and completed.
    let result = &resp["result"];
    assert_eq!(result["resultType"], "complete", "{resp}");
    let answer = &result["structuredContent"]["value"];
    assert!(answer.get("roots").is_none(), "{resp}");
    server.stop().await;
}
