//! The stateless era (2026-07-28) end to end: results, input_required
//! round trips, logging, subscriptions/listen, cancellation on disconnect.
//! Its bad input is in the table of `tests/bad_input/stateless.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use switchboard_runtime::{RequestContext, Tool, ToolResult};
use switchboard_server::Config;
use switchboard_testkit::{MODERN, ModernClient, Reply, SseReader, TestServer};
use tokio::sync::Notify;

#[tokio::test]
async fn results_carry_type_server_info_and_cache_hints() {
    let server = TestServer::start().await;
    let c = ModernClient::new(&server.url());
    let (d, _) = c.call("server/discover", json!({})).await;
    let r = &d["result"];
    assert!(
        r["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!(MODERN))
    );
    assert!(r["capabilities"]["tools"].is_object());
    for (method, params) in [
        ("server/discover", json!({})),
        ("tools/list", json!({})),
        ("prompts/list", json!({})),
        ("resources/list", json!({})),
        ("resources/templates/list", json!({})),
        ("resources/read", json!({"uri": "test://static-text"})),
    ] {
        let (v, _) = c.call(method, params).await;
        let r = &v["result"];
        assert_eq!(r["resultType"], "complete", "{method}");
        assert!(r["ttlMs"].as_u64().is_some(), "{method}");
        assert!(
            matches!(r["cacheScope"].as_str(), Some("public" | "private")),
            "{method}"
        );
        assert_eq!(
            r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "switchboard",
            "{method}"
        );
    }
    let (e, _) = c
        .call("tools/call", json!({"name": "test_error_handling"}))
        .await;
    assert_eq!(e["result"]["isError"], true);
    assert_eq!(e["result"]["resultType"], "complete");
}

#[tokio::test]
async fn input_required_round_trips() {
    let server = TestServer::start().await;
    let mut c = ModernClient::new(&server.url());
    c.capabilities = json!({"elicitation": {}, "sampling": {}, "roots": {}});
    // Round 1: the tool asks.
    let (r1, _) = c
        .call(
            "tools/call",
            json!({"name": "test_input_required_result_multi_round", "arguments": {}}),
        )
        .await;
    let r1 = &r1["result"];
    assert_eq!(r1["resultType"], "input_required");
    assert_eq!(r1["inputRequests"]["step1"]["method"], "elicitation/create");
    let s1 = r1["requestState"].as_str().unwrap().to_owned();
    // Round 2: answered; the next question comes with a new state.
    let (r2, _) = c
        .call("tools/call", json!({"name": "test_input_required_result_multi_round", "arguments": {},
            "inputResponses": {"step1": {"action": "accept", "content": {"name": "Ada"}}}, "requestState": s1}))
        .await;
    let r2 = &r2["result"];
    assert_eq!(r2["resultType"], "input_required");
    assert!(r2["inputRequests"]["step2"].is_object());
    let s2 = r2["requestState"].as_str().unwrap().to_owned();
    assert_ne!(s1, s2);
    // A state may not be replayed for another tool.
    let wrong = c
        .request(9, "tools/call", json!({"name": "test_input_required_result_tampered_state", "arguments": {}, "requestState": s2}))
        .await;
    let Reply::Other(status, body) = wrong else {
        panic!("an error answer")
    };
    assert_eq!(status, 400);
    assert!(
        body.contains("-32602") && body.contains("another request"),
        "{body}"
    );
    // Round 3: complete, with the first answer carried by the state.
    let (r3, _) = c
        .call("tools/call", json!({"name": "test_input_required_result_multi_round", "arguments": {},
            "inputResponses": {"step2": {"action": "accept", "content": {"color": "green"}}}, "requestState": s2}))
        .await;
    assert_eq!(r3["result"]["resultType"], "complete");
    assert_eq!(r3["result"]["content"][0]["text"], "Ada likes green.");

    // Several inputs in one round; sampling only when elicitation is absent.
    let (m, _) = c
        .call(
            "tools/call",
            json!({"name": "test_input_required_result_multiple_inputs", "arguments": {}}),
        )
        .await;
    let keys: Vec<&String> = m["result"]["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    c.capabilities = json!({"sampling": {}});
    let (only, _) = c
        .call(
            "tools/call",
            json!({"name": "test_input_required_result_capabilities", "arguments": {}}),
        )
        .await;
    let reqs = only["result"]["inputRequests"].as_object().unwrap();
    assert!(
        reqs.values()
            .all(|r| r["method"] == "sampling/createMessage"),
        "{reqs:?}"
    );
}

#[tokio::test]
async fn logs_only_when_a_level_is_asked_for() {
    let server = TestServer::start().await;
    let c = ModernClient::new(&server.url());
    let quiet = c
        .request(
            1,
            "tools/call",
            json!({"name": "test_tool_with_logging", "arguments": {}}),
        )
        .await;
    assert!(matches!(quiet, Reply::Json(_)), "no logs, so no stream");
    let (resp, before) = c
        .call(
            "tools/call",
            json!({"name": "test_tool_with_logging", "arguments": {},
            "_meta": {"io.modelcontextprotocol/logLevel": "info"}}),
        )
        .await;
    assert_eq!(resp["result"]["resultType"], "complete");
    assert_eq!(
        before
            .iter()
            .filter(|m| m["method"] == "notifications/message")
            .count(),
        3
    );
}

async fn listen(c: &ModernClient, id: u64, filter: Value) -> SseReader {
    let Reply::Sse(mut s) = c
        .request(id, "subscriptions/listen", json!({"notifications": filter}))
        .await
    else {
        panic!("listen answers with a stream")
    };
    let ack = s.next().await.unwrap().json().unwrap();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        id
    );
    assert_eq!(ack["params"]["notifications"], filter);
    s
}

#[tokio::test]
async fn subscriptions_listen_filters_and_tags() {
    let server = TestServer::start().await;
    let c = ModernClient::new(&server.url());
    let mut tools = listen(&c, 41, json!({"toolsListChanged": true})).await;
    let mut prompts = listen(&c, 42, json!({"promptsListChanged": true})).await;
    c.call(
        "tools/call",
        json!({"name": "test_trigger_tool_change", "arguments": {}}),
    )
    .await;
    c.call(
        "tools/call",
        json!({"name": "test_trigger_prompt_change", "arguments": {}}),
    )
    .await;
    let t = tools.next().await.unwrap().json().unwrap();
    assert_eq!(t["method"], "notifications/tools/list_changed");
    assert_eq!(
        t["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        41
    );
    // The prompts listener skipped the tool change: its next event is the prompt change.
    let p = prompts.next().await.unwrap().json().unwrap();
    assert_eq!(p["method"], "notifications/prompts/list_changed");
    assert_eq!(
        p["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        42
    );
}

#[derive(Debug, Default)]
struct Probe {
    started: Notify,
    dropped: Notify,
    was_dropped: AtomicBool,
}

struct OnDrop(Arc<Probe>);
impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.was_dropped.store(true, Ordering::SeqCst);
        self.0.dropped.notify_one();
    }
}

#[tokio::test]
async fn client_disconnect_cancels_the_handler() {
    let probe = Arc::new(Probe::default());
    let catalog = switchboard_everything::everything()
        .state(probe.clone())
        .tool(Tool::new(
            "hang",
            "never finishes on its own",
            json!({"type": "object"}),
            |ctx: RequestContext, _| async move {
                let probe = ctx.state::<Probe>().unwrap();
                let _guard = OnDrop(probe.clone());
                probe.started.notify_one();
                std::future::pending::<()>().await;
                Ok(ToolResult::text("unreachable"))
            },
        ));
    let server = TestServer::with(Config::default(), catalog).await;
    let c = ModernClient::new(&server.url());
    let call = tokio::spawn(async move {
        c.request(1, "tools/call", json!({"name": "hang", "arguments": {}}))
            .await
    });
    probe.started.notified().await;
    call.abort(); // the client goes away
    probe.dropped.notified().await;
    assert!(probe.was_dropped.load(Ordering::SeqCst));
}
