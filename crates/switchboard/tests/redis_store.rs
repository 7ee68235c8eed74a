//! `switchboard serve` with `store = "redis"`: two processes on one Redis
//! share sessions, and a Redis that cannot be reached stops the start-up
//! with a clear message that keeps the password out.

// The redis-server helper of the store-redis tests.
#[path = "../../store-redis/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::json;
use support::RedisProcess;
use switchboard_testkit::{McpClient, Reply};

/// A `switchboard serve` child process; killed on drop.
struct Node {
    child: Child,
    url: String,
}

fn serve(redis_url: &str, prefix: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("SWITCHBOARD_STORE", "redis")
        .env("SWITCHBOARD_REDIS_URL", redis_url)
        .env("SWITCHBOARD_REDIS_PREFIX", prefix)
        .env("RUST_LOG", "warn");
    cmd
}

impl Node {
    fn start(redis_url: &str, prefix: &str) -> Self {
        let mut child = serve(redis_url, prefix)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn switchboard");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("banner");
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        assert!(first.contains("store: redis at"), "{first}");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in banner {first:?}"))
            .to_owned();
        Self { child, url }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_session_made_on_one_node_is_served_and_ended_by_another() {
    let Some(redis) = RedisProcess::start() else {
        return;
    };
    let prefix = support::unique_prefix("serve");
    let (a, b) = (
        Node::start(&redis.url(), &prefix),
        Node::start(&redis.url(), &prefix),
    );
    let mut client = McpClient::new(&a.url);
    client.initialize(json!({})).await;
    client.url = b.url.clone();
    let (listed, _) = client.call("tools/list", json!({})).await;
    assert!(listed["result"]["tools"].is_array(), "{listed}");
    let echoed = client.call_tool("echo", json!({"message": "hi"})).await;
    assert!(echoed.to_string().contains("hi"), "{echoed}");
    assert!(client.delete().await.is_success());
    client.url = a.url.clone();
    match client.request(99, "tools/list", json!({})).await {
        Reply::Other(status, _) => assert_eq!(status.as_u16(), 404),
        _ => panic!("the session ended on node b is still served by node a"),
    }
}

#[tokio::test]
async fn an_unreachable_redis_stops_the_start_with_a_clear_message() {
    let Some(mut redis) = RedisProcess::start() else {
        return;
    };
    redis.kill();
    let url = format!("redis://app:hunter2@127.0.0.1:{}", redis.port);
    let out = serve(&url, "switchboard")
        .output()
        .expect("run switchboard");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot use Redis at redis://app:<redacted>@127.0.0.1"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

async fn ready_status(node: &Node) -> u16 {
    let url = node.url.replace("/mcp", "/readyz");
    reqwest::get(url).await.expect("readyz").status().as_u16()
}

#[tokio::test]
async fn redis_down_means_503_and_not_ready_until_it_is_back() {
    let Some(mut redis) = RedisProcess::start() else {
        return;
    };
    let node = Node::start(&redis.url(), &support::unique_prefix("down"));
    assert_eq!(ready_status(&node).await, 200);
    let mut client = McpClient::new(&node.url);
    client.initialize(json!({})).await;

    redis.kill();
    assert_eq!(ready_status(&node).await, 503);
    match client.request(7, "tools/list", json!({})).await {
        Reply::Other(status, _) => assert_eq!(status.as_u16(), 503),
        _ => panic!("a request needing the store was served without it"),
    }

    let _back = RedisProcess::start_on(redis.port).expect("redis-server again on its port");
    let mut ready = false;
    for _ in 0..100 {
        if ready_status(&node).await == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "/readyz did not recover after Redis came back");
    // The new Redis is empty: a fresh session works.
    let mut fresh = McpClient::new(&node.url);
    fresh.initialize(json!({})).await;
    let (listed, _) = fresh.call("tools/list", json!({})).await;
    assert!(listed["result"]["tools"].is_array(), "{listed}");
}

#[tokio::test]
async fn a_stream_logged_on_one_node_is_replayed_by_another() {
    let Some(redis) = RedisProcess::start() else {
        return;
    };
    let prefix = support::unique_prefix("replay");
    let (a, b) = (
        Node::start(&redis.url(), &prefix),
        Node::start(&redis.url(), &prefix),
    );
    let mut client = McpClient::new(&a.url);
    client.initialize(json!({})).await;
    let params = json!({"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "t"}});
    let Reply::Sse(stream) = client.request(5, "tools/call", params).await else {
        panic!("expected an SSE reply")
    };
    let logged: Vec<_> = stream
        .collect()
        .await
        .into_iter()
        .filter(|e| !e.data.is_empty())
        .collect();
    assert_eq!(
        logged.len(),
        4,
        "three progress notifications and the response: {logged:?}"
    );
    let first = logged[0].id.clone().expect("event id");

    client.url = b.url.clone();
    let resp = client
        .get()
        .header("last-event-id", &first)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200);
    let replayed = switchboard_testkit::SseReader::new(resp).collect().await;
    let ids: Vec<_> = replayed.iter().map(|e| e.id.clone()).collect();
    let expected: Vec<_> = logged[1..].iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, expected, "the rest of node a's stream, once, in order");
    assert_eq!(replayed[2].json().expect("JSON")["id"], json!(5));
}
