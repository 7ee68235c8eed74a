//! The stateless era (2026-07-28) end to end: the bad-input table of its
//! errors, input_required round trips, logging, subscriptions/listen,
//! cancellation on disconnect, and no session state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use switchboard_runtime::{RequestContext, Tool, ToolResult};
use switchboard_server::Config;
use switchboard_testkit::{MODERN, ModernClient, Reply, SseReader, TestServer};
use tokio::sync::Notify;

struct Case {
    name: &'static str,
    status: u16,
    code: Option<i64>,
}

async fn check(case: &Case, resp: reqwest::Response) -> Value {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(status, case.status, "{}: status (body {body})", case.name);
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if let Some(code) = case.code {
        assert_eq!(
            v["error"]["code"],
            json!(code),
            "{}: code in {body}",
            case.name
        );
        assert_eq!(v["id"], json!(7), "{}: the request id is echoed", case.name);
        assert!(
            v["result"].is_null() && v.get("resultType").is_none(),
            "{}",
            case.name
        );
    }
    v
}

fn body(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string()
}

#[tokio::test]
async fn modern_bad_input_table() {
    let server = TestServer::start().await;
    let c = ModernClient::new(&server.url());
    let meta = |p: Value| c.with_meta(p);
    let eliciting = ModernClient {
        capabilities: json!({"elicitation": {}}),
        ..c.clone()
    };
    let call = |name: &str| meta(json!({"name": name, "arguments": {}}));
    let v999 = json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "v999", "io.modelcontextprotocol/clientCapabilities": {}}});
    let cases: Vec<(Case, reqwest::RequestBuilder)> = vec![
        (Case { name: "no _meta", status: 400, code: Some(-32602) }, c.post("tools/list", &json!({})).body(body("tools/list", json!({})))),
        (
            Case { name: "_meta without protocolVersion", status: 400, code: Some(-32602) },
            c.post("tools/list", &json!({})).body(body("tools/list", json!({"_meta": {"io.modelcontextprotocol/clientCapabilities": {}}}))),
        ),
        (
            Case { name: "_meta without clientCapabilities", status: 400, code: Some(-32602) },
            c.post("tools/list", &json!({})).body(body("tools/list", json!({"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}))),
        ),
        (
            Case { name: "header and _meta versions differ", status: 400, code: Some(-32020) },
            c.post("tools/list", &json!({})).body(body("tools/list", v999.clone())),
        ),
        (
            Case { name: "missing Mcp-Method", status: 400, code: Some(-32020) },
            c.http.post(&c.url).header("content-type", "application/json").header("mcp-protocol-version", MODERN)
                .body(body("tools/list", meta(json!({})))),
        ),
        (
            Case { name: "Mcp-Method mismatch", status: 400, code: Some(-32020) },
            c.post("prompts/list", &json!({})).body(body("tools/list", meta(json!({})))),
        ),
        (
            Case { name: "Mcp-Method case differs", status: 400, code: Some(-32020) },
            c.post("TOOLS/LIST", &json!({})).body(body("tools/list", meta(json!({})))),
        ),
        (
            Case { name: "missing Mcp-Name", status: 400, code: Some(-32020) },
            c.post("tools/call", &json!({})).body(body("tools/call", call("echo"))),
        ),
        (
            Case { name: "Mcp-Name mismatch", status: 400, code: Some(-32020) },
            c.post("tools/call", &json!({"name": "other"})).body(body("tools/call", call("echo"))),
        ),
        (
            Case { name: "missing Mcp-Param header", status: 400, code: Some(-32020) },
            c.post("tools/call", &json!({"name": "test_x_mcp_header"}))
                .body(body("tools/call", meta(json!({"name": "test_x_mcp_header", "arguments": {"region": "eu"}})))),
        ),
        (
            Case { name: "malformed base64 Mcp-Param", status: 400, code: Some(-32020) },
            c.post("tools/call", &json!({"name": "test_x_mcp_header"}))
                .header("mcp-param-region", "=?base64?ZXU?=")
                .body(body("tools/call", meta(json!({"name": "test_x_mcp_header", "arguments": {"region": "eu"}})))),
        ),
        (
            Case { name: "unsupported version", status: 400, code: Some(-32022) },
            c.http
                .post(&c.url)
                .header("content-type", "application/json")
                .header("mcp-protocol-version", "v999")
                .header("mcp-method", "tools/list")
                .body(body("tools/list", v999.clone())),
        ),
        (Case { name: "initialize is gone", status: 404, code: Some(-32601) }, c.post("initialize", &json!({})).body(body("initialize", meta(json!({}))))),
        (Case { name: "ping is gone", status: 404, code: Some(-32601) }, c.post("ping", &json!({})).body(body("ping", meta(json!({}))))),
        (
            Case { name: "logging/setLevel is gone", status: 404, code: Some(-32601) },
            c.post("logging/setLevel", &json!({})).body(body("logging/setLevel", meta(json!({"level": "info"})))),
        ),
        (
            Case { name: "resources/subscribe is gone", status: 404, code: Some(-32601) },
            c.post("resources/subscribe", &json!({})).body(body("resources/subscribe", meta(json!({"uri": "test://static-text"})))),
        ),
        (Case { name: "unknown method", status: 404, code: Some(-32601) }, c.post("no/such", &json!({})).body(body("no/such", meta(json!({}))))),
        (
            Case { name: "missing client capability", status: 400, code: Some(-32021) },
            c.post("tools/call", &json!({"name": "test_missing_capability"})).body(body("tools/call", call("test_missing_capability"))),
        ),
        (
            Case { name: "unknown resource", status: 400, code: Some(-32602) },
            c.post("resources/read", &json!({"uri": "test://nope"})).body(body("resources/read", meta(json!({"uri": "test://nope"})))),
        ),
        (
            Case { name: "tampered requestState", status: 400, code: Some(-32602) },
            c.post("tools/call", &json!({"name": "echo"}))
                .body(body("tools/call", meta(json!({"name": "echo", "arguments": {"message": "x"}, "requestState": "sb1.AAAA.BBBB"})))),
        ),
        (
            Case { name: "input response of the wrong shape", status: 400, code: Some(-32602) },
            c.post("tools/call", &json!({"name": "test_input_required_result_elicitation"})).body(body(
                "tools/call",
                eliciting.with_meta(json!({"name": "test_input_required_result_elicitation", "arguments": {}, "inputResponses": {"user_name": 12345}})),
            )),
        ),
        (
            Case { name: "a response without a session", status: 400, code: None },
            c.post("x", &json!({})).body(r#"{"jsonrpc":"2.0","id":7,"result":{}}"#),
        ),
        (
            Case { name: "a batch", status: 400, code: None },
            c.post("tools/list", &json!({})).body(format!("[{}]", body("tools/list", meta(json!({}))))),
        ),
        (Case { name: "GET", status: 405, code: None }, c.http.get(&c.url).header("mcp-protocol-version", MODERN)),
        (Case { name: "DELETE", status: 405, code: None }, c.http.delete(&c.url).header("mcp-protocol-version", MODERN)),
    ];
    for (case, rb) in cases {
        let v = check(&case, rb.send().await.expect(case.name)).await;
        match case.name {
            "unsupported version" => {
                assert_eq!(v["error"]["data"]["requested"], "v999");
                assert!(
                    v["error"]["data"]["supported"]
                        .as_array()
                        .unwrap()
                        .contains(&json!(MODERN))
                );
            }
            "missing client capability" => {
                assert!(v["error"]["data"]["requiredCapabilities"]["sampling"].is_object())
            }
            "unknown resource" => assert_eq!(v["error"]["data"]["uri"], "test://nope"),
            _ => {}
        }
    }
    // Still serving, and not one session was made.
    let (ok, _) = c
        .call(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "still here"}}),
        )
        .await;
    assert_eq!(ok["result"]["content"][0]["text"], "still here");
    assert_eq!(ok["result"]["resultType"], "complete");
    assert_eq!(server.app.live_sessions(), 0);
}

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
