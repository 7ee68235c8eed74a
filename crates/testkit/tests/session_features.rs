//! Session-era features end to end: cancellation, server-to-client
//! requests, batches, log levels, pagination, reply mode, shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use switchboard_runtime::{CatalogBuilder, RequestContext, Tool, ToolResult};
use switchboard_server::Config;
use switchboard_testkit::{Reply, TestServer};
use tokio::sync::Notify;

/// Shared by the test tools: signals that a handler started, and whether
/// its future was dropped before it finished.
#[derive(Debug, Default)]
struct Probe {
    started: Notify,
    release: Notify,
    dropped: AtomicBool,
    finished: AtomicBool,
    /// Notified when a handler finished.
    ended: Notify,
}

struct DropFlag(Arc<Probe>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::SeqCst);
    }
}

fn probe_tools(probe: Arc<Probe>) -> CatalogBuilder {
    switchboard_everything::everything()
        .state(probe)
        .tool(Tool::new(
            "block",
            "waits until released",
            json!({"type": "object"}),
            |ctx: RequestContext, _| async move {
                let probe = ctx.state::<Probe>().unwrap();
                let _flag = DropFlag(probe.clone());
                probe.started.notify_one();
                probe.release.notified().await;
                probe.finished.store(true, Ordering::SeqCst);
                probe.ended.notify_one();
                Ok(ToolResult::text("released"))
            },
        ))
}

#[tokio::test]
async fn cancellation_really_stops_the_handler() {
    let probe = Arc::new(Probe::default());
    let server = TestServer::with(Config::default(), probe_tools(probe.clone())).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let c = Arc::new(c);
    let call = tokio::spawn({
        let c = c.clone();
        async move { c.request(77, "tools/call", json!({"name": "block"})).await }
    });
    probe.started.notified().await;
    let status = c
        .notify(
            "notifications/cancelled",
            json!({"requestId": 77, "reason": "test"}),
        )
        .await;
    assert_eq!(status, 202);
    let Reply::Json(v) = call.await.unwrap() else {
        panic!("JSON reply expected")
    };
    assert_eq!(v["error"]["code"], -32800, "{v}");
    assert!(
        probe.dropped.load(Ordering::SeqCst),
        "the handler's future was dropped"
    );
    assert!(
        !probe.finished.load(Ordering::SeqCst),
        "the handler never finished"
    );
}

/// The value of `switchboard_connections_open{pool="main"}`, scraped on
/// a connection of its own that the server closes after answering.
async fn open_main_connections(server: &TestServer) -> f64 {
    let scraper = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let text = scraper
        .get(format!("http://{}/metrics", server.addr))
        .header("connection", "close")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(r#"switchboard_connections_open{pool="main"} "#))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no open-connections sample in\n{text}"))
}

/// A client that leaves while its request runs does not cancel it
/// (disconnection is not cancellation): the handler, on a task of its own,
/// outlives the dropped request and finishes.
#[tokio::test]
async fn a_client_leaving_does_not_stop_its_handler() {
    let probe = Arc::new(Probe::default());
    let server = TestServer::with(Config::default(), probe_tools(probe.clone())).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let call =
        tokio::spawn(async move { c.request(9, "tools/call", json!({"name": "block"})).await });
    probe.started.notified().await;
    call.abort(); // the client leaves, and its connections close
    assert!(call.await.unwrap_err().is_cancelled());
    // Only the scrape's own connection left: the server has dropped the
    // request (a connection's place is given back after its requests).
    while open_main_connections(&server).await > 1.0 {
        tokio::task::yield_now().await;
    }
    assert!(
        !probe.dropped.load(Ordering::SeqCst),
        "the handler was not dropped with its request"
    );
    probe.release.notify_one();
    probe.ended.notified().await;
    assert!(probe.finished.load(Ordering::SeqCst));
}

#[tokio::test]
async fn sampling_round_trip_on_the_request_stream() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.initialize(json!({"sampling": {}})).await;
    let Reply::Sse(mut s) = c
        .request(
            5,
            "tools/call",
            json!({"name": "test_sampling", "arguments": {"prompt": "hi?"}}),
        )
        .await
    else {
        panic!("SSE expected")
    };
    let priming = s.next().await.unwrap();
    assert_eq!(priming.data, "");
    let req = s.next().await.unwrap().json().unwrap();
    assert_eq!(req["method"], "sampling/createMessage");
    assert_eq!(req["params"]["messages"][0]["content"]["text"], "hi?");
    let answer = json!({"jsonrpc": "2.0", "id": req["id"], "result": {
        "role": "assistant", "content": {"type": "text", "text": "hello"}, "model": "m", "stopReason": "endTurn"}});
    let status = c.respond(&answer).await;
    assert_eq!(status, 202);
    let resp = s.next().await.unwrap().json().unwrap();
    assert_eq!(resp["id"], 5);
    assert_eq!(resp["result"]["content"][0]["text"], "LLM response: hello");
    assert_eq!(s.next().await, None, "stream ends after the response");
}

#[tokio::test]
async fn client_error_and_missing_capability_become_tool_errors() {
    let server = TestServer::start().await;
    let mut plain = server.client();
    plain.initialize(json!({})).await;
    let r = plain
        .call_tool("test_sampling", json!({"prompt": "x"}))
        .await;
    assert_eq!(r["isError"], true);
    assert!(
        r["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("sampling"),
        "{r}"
    );

    let mut c = server.client();
    c.initialize(json!({"elicitation": {}})).await;
    let Reply::Sse(mut s) = c
        .request(
            9,
            "tools/call",
            json!({"name": "test_elicitation", "arguments": {"message": "m"}}),
        )
        .await
    else {
        panic!("SSE expected")
    };
    let _priming = s.next().await.unwrap();
    let req = s.next().await.unwrap().json().unwrap();
    assert_eq!(req["method"], "elicitation/create");
    let refusal = json!({"jsonrpc": "2.0", "id": req["id"], "error": {"code": -1, "message": "user said no"}});
    assert_eq!(c.respond(&refusal).await, 202);
    let resp = s.next().await.unwrap().json().unwrap();
    assert_eq!(resp["result"]["isError"], true);
    assert!(
        resp["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("user said no")
    );
}

#[tokio::test]
async fn batches_on_2025_03_26_only() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.version = "2025-03-26".into();
    c.initialize(json!({})).await;
    assert_eq!(c.version, "2025-03-26");
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},
        {"jsonrpc":"2.0","id":"two","method":"tools/call","params":{"name":"echo","arguments":{"message":"b"}}},
        {"jsonrpc":"2.0","method":"notifications/initialized"},
        {"jsonrpc":"2.0","id":3,"method":"no/such"}, 7]"#;
    let Reply::Json(Value::Array(answers)) =
        switchboard_testkit::McpClient::classify(c.post().body(batch).send().await.unwrap()).await
    else {
        panic!("a JSON array")
    };
    assert_eq!(answers.len(), 4, "{answers:?}");
    let by_id = |id: Value| answers.iter().find(|a| a["id"] == id).cloned().unwrap();
    assert_eq!(by_id(json!(1))["result"], json!({}));
    assert_eq!(by_id(json!("two"))["result"]["content"][0]["text"], "b");
    assert_eq!(by_id(json!(3))["error"]["code"], -32601);
    assert_eq!(by_id(Value::Null)["error"]["code"], -32600);
    // Only notifications: 202.
    let status = c
        .post()
        .body(r#"[{"jsonrpc":"2.0","method":"notifications/initialized"}]"#)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
}

#[tokio::test]
async fn log_level_filters_and_decides_the_reply_mode() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let (r, _) = c.call("logging/setLevel", json!({"level": "error"})).await;
    assert_eq!(r["result"], json!({}));
    // Nothing to send before the result: a plain JSON reply.
    assert!(matches!(
        c.request(1, "tools/call", json!({"name": "test_tool_with_logging"}))
            .await,
        Reply::Json(_)
    ));
    c.call("logging/setLevel", json!({"level": "debug"})).await;
    let (resp, before) = c
        .call("tools/call", json!({"name": "test_tool_with_logging"}))
        .await;
    assert!(resp["result"].is_object());
    let logs: Vec<&Value> = before
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .collect();
    assert_eq!(logs.len(), 3);
    let (bad, _) = c.call("logging/setLevel", json!({"level": "loud"})).await;
    assert_eq!(bad["error"]["code"], -32602);
}

#[tokio::test]
async fn lists_paginate_with_opaque_cursors() {
    let config = Config {
        page_size: 4,
        ..Config::default()
    };
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = cursor
            .as_ref()
            .map_or(json!({}), |cur| json!({"cursor": cur}));
        let (r, _) = c.call("tools/list", params).await;
        let page = r["result"]["tools"].as_array().unwrap();
        assert!(page.len() <= 4);
        names.extend(page.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        pages += 1;
        match r["result"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let catalog_size = server.app.catalog().tools().len();
    assert_eq!(names.len(), catalog_size);
    assert_eq!(pages, catalog_size.div_ceil(4));
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let probe = Arc::new(Probe::default());
    let server = TestServer::with(Config::default(), probe_tools(probe.clone())).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let call =
        tokio::spawn(async move { c.request(1, "tools/call", json!({"name": "block"})).await });
    probe.started.notified().await;
    let stopping = tokio::spawn(server.stop());
    // The server has begun to stop; the handler is still allowed to finish.
    tokio::task::yield_now().await;
    probe.release.notify_one();
    let Reply::Json(v) = call.await.unwrap() else {
        panic!("JSON reply")
    };
    assert_eq!(v["result"]["content"][0]["text"], "released");
    stopping.await.unwrap();
}

#[tokio::test]
async fn keep_alive_comments_on_idle_streams() {
    let config = Config {
        keep_alive_secs: 1,
        ..Config::default()
    };
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let mut resp = c.get().send().await.unwrap();
    let mut text = String::new();
    while !text.contains(": keep-alive") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), resp.chunk()).await;
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap().unwrap().unwrap()));
    }
}

#[tokio::test]
async fn second_standalone_stream_conflicts_and_delete_ends_streams() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let first = c.get().send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(c.get().send().await.unwrap().status(), 409);
    assert_eq!(c.delete().await, 200);
    // The open stream ends with the session.
    let events = switchboard_testkit::SseReader::new(first).collect().await;
    assert!(
        events.iter().all(|e| e.data.is_empty()),
        "only the priming event: {events:?}"
    );
    assert_eq!(server.app.live_sessions(), 0);
}

#[tokio::test]
async fn a_panicking_handler_is_an_internal_error_not_a_crash() {
    let catalog = switchboard_everything::everything().tool(Tool::new(
        "boom",
        "panics",
        json!({"type": "object"}),
        |_, _| async move {
            if true {
                panic!("a tool author's bug");
            }
            Ok(ToolResult::text("never"))
        },
    ));
    let server = TestServer::with(Config::default(), catalog).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let Reply::Other(status, body) = c.request(3, "tools/call", json!({"name": "boom"})).await
    else {
        panic!("an error answer")
    };
    assert_eq!(status, 500);
    assert!(
        body.contains("-32603") && body.contains("\"id\":3"),
        "{body}"
    );
    let modern = switchboard_testkit::ModernClient::new(&server.url());
    let Reply::Other(status, _) = modern
        .request(4, "tools/call", json!({"name": "boom", "arguments": {}}))
        .await
    else {
        panic!("an error answer")
    };
    assert_eq!(status, 500);
    let (pong, _) = c.call("ping", json!({})).await;
    assert_eq!(pong["result"], json!({}));
}
