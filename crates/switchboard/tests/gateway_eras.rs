//! A stateless (2026-07-28) client through the gateway to an upstream that
//! speaks 2026-07-28 too — `switchboard stdio` as a real child process, and
//! a Switchboard server over HTTP: the request goes on with the client's own
//! `_meta`, so the upstream's input keys, its capability checks and its
//! `Mcp-Param-*` header checks reach the client unchanged.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_runtime::{CatalogBuilder, EventBus, LocalBus};
use switchboard_testkit::{ModernClient, Reply, TestServer};
use switchboard_upstream::gateway::{
    StdioProvider, UpstreamConfig, UpstreamKind, UpstreamProtocol,
};

fn stdio_upstream() -> UpstreamConfig {
    UpstreamConfig {
        name: "up".into(),
        command: env!("CARGO_BIN_EXE_switchboard").into(),
        args: vec!["stdio".into()],
        call_timeout_secs: 20,
        ..UpstreamConfig::default()
    }
}

fn http_upstream(url: &str) -> UpstreamConfig {
    UpstreamConfig {
        name: "up".into(),
        kind: UpstreamKind::Http,
        url: url.into(),
        call_timeout_secs: 20,
        ..UpstreamConfig::default()
    }
}

/// A gateway over `upstream`, its events on the catalog's bus (as `serve`
/// wires it).
async fn gateway(upstream: UpstreamConfig) -> TestServer {
    let bus: Arc<dyn EventBus> = Arc::new(LocalBus::default());
    let provider = Arc::new(StdioProvider::with_bus(upstream, Some(bus.clone())));
    provider.probe().await.expect("upstream starts");
    TestServer::with(
        switchboard_server::Config::default(),
        CatalogBuilder::new().bus(bus).provider(provider),
    )
    .await
}

/// The checks of this file against one gateway (tools under `up__`).
async fn modern_requests_pass_through(server: &TestServer) {
    // The upstream's own input key comes back, not one of the gateway's.
    let mut m = ModernClient::new(&server.url());
    m.capabilities = json!({"elicitation": {}});
    let params = json!({"name": "up__test_input_required_result_elicitation", "arguments": {}});
    let (first, _) = m.call("tools/call", params.clone()).await;
    let r = &first["result"];
    assert_eq!(r["resultType"], "input_required", "{first}");
    let requests = r["inputRequests"].as_object().expect("inputRequests");
    assert_eq!(
        requests.keys().collect::<Vec<_>>(),
        ["user_name"],
        "{first}"
    );
    assert_eq!(requests["user_name"]["method"], "elicitation/create");

    let mut retry = params.clone();
    retry["inputResponses"] =
        json!({"user_name": {"action": "accept", "content": {"name": "Ada"}}});
    retry["requestState"] = r["requestState"].clone();
    let (second, _) = m.call("tools/call", retry).await;
    assert_eq!(second["result"]["resultType"], "complete", "{second}");
    assert_eq!(
        second["result"]["content"][0]["text"], "Hello, Ada!",
        "{second}"
    );

    // Without the capability the upstream's own check answers: 400, -32021.
    let bare = ModernClient::new(&server.url());
    match bare.request(2, "tools/call", params).await {
        Reply::Other(status, body) => {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            let v: Value = serde_json::from_str(&body).expect("JSON error");
            assert_eq!(v["error"]["code"], -32021, "{v}");
        }
        Reply::Json(v) => {
            assert_eq!(v["error"]["code"], -32021, "{v}");
        }
        Reply::Sse(_) => panic!("an error answered as a stream"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_stdio_upstream() {
    let server = gateway(stdio_upstream()).await;
    modern_requests_pass_through(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_an_http_upstream() {
    let upstream = TestServer::start().await;
    let server = gateway(http_upstream(&upstream.url())).await;
    modern_requests_pass_through(&server).await;
    server.stop().await;
    upstream.stop().await;
}

/// Open a `subscriptions/listen` stream and read its acknowledgement.
async fn listen(c: &ModernClient, id: u64, filter: Value) -> switchboard_testkit::SseReader {
    let Reply::Sse(mut s) = c
        .request(id, "subscriptions/listen", json!({"notifications": filter}))
        .await
    else {
        panic!("listen answers with a stream")
    };
    let ack = s.next().await.expect("ack").json().expect("JSON");
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    s
}

/// The next notification on a listen stream (keep-alives skipped).
async fn next_notification(s: &mut switchboard_testkit::SseReader) -> Value {
    loop {
        let ev = tokio::time::timeout(std::time::Duration::from_secs(20), s.next())
            .await
            .expect("a notification within 20 s")
            .expect("the stream stays open");
        if let Some(v) = ev.json() {
            return v;
        }
    }
}

/// An upstream's own notifications reach `subscriptions/listen` streams:
/// its tool-list change (every listener), and an update of a resource the
/// stream named (subscribed upstream for the stream's lifetime).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_notifications_reach_listen_streams() {
    let server = gateway(stdio_upstream()).await;
    let c = ModernClient::new(&server.url());
    let mut tools = listen(&c, 7, json!({"toolsListChanged": true})).await;
    let watched = "test://watched-resource";
    let mut updates = listen(&c, 8, json!({"resourceSubscriptions": [watched]})).await;

    let (r, _) = c
        .call(
            "tools/call",
            json!({"name": "up__test_trigger_tool_change", "arguments": {}}),
        )
        .await;
    assert_eq!(r["result"]["resultType"], "complete", "{r}");
    let n = next_notification(&mut tools).await;
    assert_eq!(n["method"], "notifications/tools/list_changed", "{n}");
    assert_eq!(
        n["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        7
    );

    let (r, _) = c
        .call(
            "tools/call",
            json!({"name": "up__update_watched_resource", "arguments": {}}),
        )
        .await;
    assert_eq!(r["result"]["resultType"], "complete", "{r}");
    let n = next_notification(&mut updates).await;
    assert_eq!(n["method"], "notifications/resources/updated", "{n}");
    assert_eq!(n["params"]["uri"], watched);
    assert_eq!(
        n["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        8
    );
    server.stop().await;
}

/// A session-era client and an upstream that speaks only 2026-07-28
/// (`protocol = "stateless"`, HTTP): no upstream session is opened; the
/// call goes as a stateless request with `_meta` from the session, and the
/// upstream's `input_required` round becomes a real elicitation request to
/// the client, whose answer completes the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_client_through_a_stateless_only_upstream() {
    let upstream = TestServer::start().await;
    let config = UpstreamConfig {
        protocol: UpstreamProtocol::Stateless,
        ..http_upstream(&upstream.url())
    };
    let server = gateway(config).await;
    let mut c = server.client();
    c.initialize(json!({"elicitation": {}})).await;
    let Reply::Sse(mut s) = c
        .request(
            42,
            "tools/call",
            json!({"name": "up__test_input_required_result_elicitation", "arguments": {}}),
        )
        .await
    else {
        panic!("SSE expected")
    };
    let req = loop {
        let ev = s.next().await.expect("an event");
        if let Some(v) = ev.json() {
            break v;
        }
    };
    assert_eq!(req["method"], "elicitation/create", "{req}");
    let answer = json!({"jsonrpc": "2.0", "id": req["id"], "result": {"action": "accept", "content": {"name": "Ada"}}});
    let status = c.respond(&answer).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let resp = loop {
        let ev = s.next().await.expect("the response");
        if let Some(v) = ev.json().filter(|v| v["id"] == 42) {
            break v;
        }
    };
    assert_eq!(
        resp["result"]["content"][0]["text"], "Hello, Ada!",
        "{resp}"
    );
    assert_eq!(
        upstream.app.live_sessions(),
        0,
        "no upstream session opened"
    );
    // Subscriptions are not carried to such an upstream: a clear error.
    let (r, _) = c
        .call(
            "resources/subscribe",
            json!({"uri": "test://watched-resource"}),
        )
        .await;
    assert!(
        r["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("2026-07-28")),
        "{r}"
    );
    server.stop().await;
    upstream.stop().await;
}
