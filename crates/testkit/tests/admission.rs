//! Admission over HTTP: beyond the in-flight cap and its queue a request is
//! refused at once with 503, Retry-After and a JSON-RPC error; a request that
//! runs too long is cancelled and answered with an error.

use std::sync::Arc;

use serde_json::json;
use switchboard_runtime::{RequestContext, Tool, ToolResult};
use switchboard_server::Config;
use switchboard_testkit::{ModernClient, Reply, TestServer};
use tokio::sync::Notify;

/// Set when a blocked handler's future is dropped (it was cancelled).
#[derive(Debug, Default)]
struct Dropped(std::sync::atomic::AtomicBool);

struct OnDrop(Arc<Dropped>);
impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn blocking_catalog(
    started: Arc<Notify>,
    dropped: Arc<Dropped>,
) -> switchboard_runtime::CatalogBuilder {
    switchboard_everything::everything()
        .state(started)
        .state(dropped)
        .tool(Tool::new(
            "block",
            "runs until cancelled",
            json!({"type": "object"}),
            |ctx: RequestContext, _| async move {
                let _flag = OnDrop(ctx.state::<Dropped>().unwrap());
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
    let server = TestServer::with(config, blocking_catalog(started.clone(), Arc::default())).await;
    let mut a = server.client();
    a.initialize(json!({})).await;
    let a = Arc::new(a);
    // Opened before the server is full (a new session is refused at
    // arrival while it is).
    let mut b = server.client();
    b.initialize(json!({})).await;
    let running = tokio::spawn({
        let a = a.clone();
        async move { a.request(1, "tools/call", json!({"name": "block"})).await }
    });
    started.notified().await;
    // Session era: refused.
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
    // Cheap session methods are not queued: a session whose request runs
    // is answered (an idle one is refused at arrival while the server is
    // full: tests/shedding.rs).
    let (pong, _) = a.call("ping", json!({})).await;
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
    let dropped = Arc::new(Dropped::default());
    let server = TestServer::with(config, blocking_catalog(started, dropped.clone())).await;
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

#[tokio::test]
async fn streams_per_session_are_capped() {
    let catalog = switchboard_everything::everything().tool(Tool::new(
        "hold",
        "opens its stream and keeps it",
        json!({"type": "object"}),
        |ctx: RequestContext, _| async move {
            ctx.progress(1.0, None, None).await;
            std::future::pending::<()>().await;
            Ok(ToolResult::text("never"))
        },
    ));
    let config = Config {
        max_streams_per_session: 2,
        ..Config::default()
    };
    let server = TestServer::with(config, catalog).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let mut open = Vec::new();
    for id in [1, 2] {
        let Reply::Sse(mut s) = c
            .request(
                id,
                "tools/call",
                json!({"name": "hold", "_meta": {"progressToken": id}}),
            )
            .await
        else {
            panic!("a stream")
        };
        s.next().await.unwrap(); // priming
        s.next().await.unwrap(); // progress: the stream is open
        open.push(s);
    }
    let refused = c.get().send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    drop(open);
    // Once a stream closes there is room again (the server notices the close).
    let mut status = 0;
    for _ in 0..100 {
        status = c.get().send().await.unwrap().status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200);
}
