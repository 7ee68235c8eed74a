//! Admission over HTTP: beyond the in-flight cap and its queue a request is
//! refused at once with 503, Retry-After and a JSON-RPC error; a request that
//! runs too long is cancelled and answered with an error.

use std::sync::Arc;

use serde_json::json;
use switchboard_runtime::{RequestContext, Tool, ToolResult};
use switchboard_server::Config;
use switchboard_testkit::{ModernClient, Reply, TestServer};
use tokio::sync::Notify;

fn blocking_catalog(started: Arc<Notify>) -> switchboard_runtime::CatalogBuilder {
    switchboard_everything::everything()
        .state(started)
        .tool(Tool::new(
            "block",
            "runs until cancelled",
            json!({"type": "object"}),
            |ctx: RequestContext, _| async move {
                ctx.state::<Notify>().unwrap().notify_one();
                std::future::pending::<()>().await;
                Ok(ToolResult::text("never"))
            },
        ))
}

#[tokio::test]
async fn over_the_cap_and_queue_is_503_at_once() {
    let started = Arc::new(Notify::new());
    let config = Config {
        max_in_flight: 1,
        max_queue: 0,
        ..Config::default()
    };
    let server = TestServer::with(config, blocking_catalog(started.clone())).await;
    let mut a = server.client();
    a.initialize(json!({})).await;
    let a = Arc::new(a);
    let running = tokio::spawn({
        let a = a.clone();
        async move { a.request(1, "tools/call", json!({"name": "block"})).await }
    });
    started.notified().await;
    // Session era: refused.
    let mut b = server.client();
    b.initialize(json!({})).await;
    let resp = b
        .post()
        .body(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "x"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], -32000);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("queue_full")
    );
    // Stateless era: refused the same way.
    let reply = ModernClient::new(&server.url())
        .request(
            3,
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "x"}}),
        )
        .await;
    let Reply::Other(status, _) = reply else {
        panic!("refused")
    };
    assert_eq!(status, 503);
    // Cheap session methods are not queued.
    let (pong, _) = b.call("ping", json!({})).await;
    assert_eq!(pong["result"], json!({}));
    running.abort();
}

#[tokio::test]
async fn a_request_over_its_time_is_cancelled_with_an_error() {
    let started = Arc::new(Notify::new());
    let config = Config {
        request_timeout_secs: 1,
        ..Config::default()
    };
    let server = TestServer::with(config, blocking_catalog(started)).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let (resp, _) = c.call("tools/call", json!({"name": "block"})).await;
    assert_eq!(resp["error"]["code"], -32003, "{resp}");
    assert!(
        resp["error"]["message"]
            .as_str()
            .unwrap()
            .contains("timed out")
    );
    // The slot was given back: the next call runs.
    let r = c.call_tool("echo", json!({"message": "after"})).await;
    assert_eq!(r["content"][0]["text"], "after");
}
