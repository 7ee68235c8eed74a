//! The session table's caps and the policies for a new session at the cap.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_server::{CapPolicy, Config};
use switchboard_testkit::{McpClient, TestServer};

async fn server(config: Config) -> TestServer {
    TestServer::with(config, switchboard_everything::everything()).await
}

/// An initialize's HTTP status and body.
async fn try_initialize(c: &McpClient) -> (u16, Value, Option<String>) {
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let resp = c.post().body(body.to_string()).send().await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, resp.json().await.unwrap_or(Value::Null), retry)
}

async fn ping_status(c: &McpClient) -> u16 {
    c.post()
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn reject_at_the_cap() {
    let s = server(Config {
        max_sessions: 2,
        session_cap_policy: CapPolicy::Reject,
        ..Config::default()
    })
    .await;
    for _ in 0..2 {
        s.client().initialize(json!({})).await;
    }
    let (status, body, retry) = try_initialize(&s.client()).await;
    assert_eq!(status, 503);
    assert!(retry.is_some(), "Retry-After");
    assert_eq!(body["error"]["code"], -32000);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("session_cap")
    );
}

#[tokio::test]
async fn evict_the_longest_idle_at_the_cap() {
    let config = Config {
        max_sessions: 2,
        session_cap_policy: CapPolicy::EvictIdle,
        evict_min_idle_secs: 0,
        ..Config::default()
    };
    let s = server(config).await;
    let mut oldest = s.client();
    oldest.initialize(json!({})).await;
    tokio::time::sleep(Duration::from_millis(20)).await; // distinct last-seen times
    let mut newer = s.client();
    newer.initialize(json!({})).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut third = s.client();
    third.initialize(json!({})).await;
    assert_eq!(
        ping_status(&oldest).await,
        404,
        "the longest-idle session was evicted"
    );
    assert_eq!(ping_status(&newer).await, 200);
    assert_eq!(ping_status(&third).await, 200);
}

#[tokio::test]
async fn evict_idle_spares_sessions_not_idle_long_enough() {
    let config = Config {
        max_sessions: 1,
        session_cap_policy: CapPolicy::EvictIdle,
        ..Config::default()
    };
    let s = server(config).await;
    s.client().initialize(json!({})).await;
    let (status, _, _) = try_initialize(&s.client()).await;
    assert_eq!(status, 503, "nobody has idled evict_min_idle_secs (60 s)");
}

#[tokio::test]
async fn queue_waits_for_a_session_to_end() {
    let config = Config {
        max_sessions: 1,
        session_cap_policy: CapPolicy::Queue,
        session_queue_ms: 30_000,
        ..Config::default()
    };
    let s = server(config).await;
    let mut first = s.client();
    first.initialize(json!({})).await;
    let url = s.url();
    let waiting = tokio::spawn(async move { try_initialize(&McpClient::new(&url)).await.0 });
    // Still waiting (the deadline is far): no room yet.
    let mut waiting = waiting;
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut waiting)
            .await
            .is_err()
    );
    assert_eq!(first.delete().await, 200);
    assert_eq!(
        waiting.await.unwrap(),
        200,
        "admitted once the first session ended"
    );

    let config = Config {
        max_sessions: 1,
        session_cap_policy: CapPolicy::Queue,
        session_queue_ms: 50,
        ..Config::default()
    };
    let s = server(config).await;
    s.client().initialize(json!({})).await;
    assert_eq!(
        try_initialize(&s.client()).await.0,
        503,
        "the wait is bounded"
    );
}

#[tokio::test]
async fn per_identity_cap() {
    let s = server(Config {
        max_sessions_per_identity: 2,
        ..Config::default()
    })
    .await;
    let mut a = s.client();
    a.initialize(json!({})).await;
    s.client().initialize(json!({})).await;
    let (status, body, _) = try_initialize(&s.client()).await;
    assert_eq!(status, 503);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("per_identity_cap")
    );
    assert_eq!(a.delete().await, 200);
    assert_eq!(
        try_initialize(&s.client()).await.0,
        200,
        "room again after a session ended"
    );
}
