//! The per-identity byte budget (`max_session_bytes_per_identity`) across
//! two `switchboard serve` nodes on one Redis: one budget for the cluster,
//! counted by the store when a session is created and when it grows on a
//! node that did not create it.

use crate::redis_support;
use crate::support;

use redis_support::RedisProcess;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Node;
use switchboard_testkit::McpClient;

/// Records up to 8 KiB, 30000 bytes per identity (every client here is
/// 127.0.0.1): four sessions with 6000 bytes of capabilities fit, not five.
const LIMITS: [(&str, &str); 2] = [
    ("SWITCHBOARD_MAX_SESSION_BYTES", "8192"),
    ("SWITCHBOARD_MAX_SESSION_BYTES_PER_IDENTITY", "30000"),
];

fn node(redis: &str, prefix: &str) -> Node {
    let mut env = vec![
        ("SWITCHBOARD_STORE", "redis"),
        ("SWITCHBOARD_REDIS_URL", redis),
        ("SWITCHBOARD_REDIS_PREFIX", prefix),
        ("SWITCHBOARD_SEALING_KEY", support::SEALING_KEY),
    ];
    env.extend(LIMITS);
    Node::spawn(None, &env)
}

/// A session at `url` opened with about `pad` bytes of capabilities, or
/// the refusal's status and body.
async fn open(url: &str, pad: usize) -> Result<McpClient, (StatusCode, Value)> {
    let mut c = McpClient::new(url);
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {"experimental": {"pad": "x".repeat(pad)}},
        "clientInfo": {"name": "t", "version": "1"}}});
    let resp = c.post().body(body.to_string()).send().await.expect("post");
    let status = resp.status();
    let sid = resp
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    match sid {
        Some(sid) => {
            c.session = Some(sid);
            Ok(c)
        }
        None => Err((status, v)),
    }
}

/// `resources/subscribe` of session `c` sent to `url`, to a URI of about
/// `n` bytes: the status and body.
async fn subscribe(c: &McpClient, url: &str, n: usize) -> (StatusCode, Value) {
    let uri = format!("test://template/{}/data", "a".repeat(n));
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "resources/subscribe", "params": {"uri": uri}});
    let resp = c
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", c.session.as_deref().expect("a session"))
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string())
        .send()
        .await
        .expect("post");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_byte_budget_per_identity_across_the_nodes() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("bytes");
    let nodes = [node(&redis.url(), &prefix), node(&redis.url(), &prefix)];

    // Round-robin over the nodes: four in total, not four per node.
    let mut admitted = Vec::new();
    for i in 0..8 {
        match open(&nodes[i % 2].url, 6000).await {
            Ok(c) => admitted.push(c),
            Err((status, v)) => {
                assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
                assert_eq!(v["error"]["code"], -32005, "{v}");
                assert_eq!(
                    v["error"]["data"]["quota"],
                    "max_session_bytes_per_identity"
                );
            }
        }
    }
    assert_eq!(admitted.len(), 4, "the identity's budget across the nodes");

    // A small session made on node 0 grows on node 1, which counts none
    // of the identity's sessions itself: the store refuses the growth.
    let small = open(&nodes[0].url, 0).await.expect("a small session fits");
    let (status, v) = subscribe(&small, &nodes[1].url, 6000).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"]["code"], -32005, "{v}");
    let (status, v) = subscribe(&small, &nodes[1].url, 10).await;
    assert_eq!(status, StatusCode::OK, "a little growth still fits: {v}");

    // An ended session's bytes are free on the other node.
    assert!(admitted.pop().expect("one").delete().await.is_success());
    open(&nodes[1].url, 6000).await.expect("room again");
    assert!(open(&nodes[0].url, 6000).await.is_err(), "and only once");
}
