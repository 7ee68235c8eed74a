//! `/metrics` exposes every family, and the values move as sessions open,
//! work runs and sessions close.

use serde_json::json;
use switchboard_server::{CapPolicy, Config};
use switchboard_testkit::TestServer;

async fn scrape(server: &TestServer) -> String {
    let resp = reqwest::get(format!("http://{}/metrics", server.addr))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// The value of the first sample whose line starts with `prefix`.
fn value(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {prefix:?} in\n{text}"))
}

#[tokio::test]
async fn families_exist_and_values_move() {
    let config = Config {
        max_sessions: 2,
        session_cap_policy: CapPolicy::Reject,
        ..Config::default()
    };
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let before = scrape(&server).await;
    assert_eq!(value(&before, "switchboard_sessions_open "), 0.0);
    assert_eq!(
        value(
            &before,
            r#"switchboard_rejections_total{reason="queue_full"}"#
        ),
        0.0
    );

    let mut a = server.client();
    a.initialize(json!({})).await;
    let mut b = server.client();
    b.initialize(json!({})).await;
    let stream = b.get().send().await.unwrap();
    a.call_tool("echo", json!({"message": "m"})).await;
    a.call_tool("test_error_handling", json!({})).await;
    // A third session is refused at the cap.
    let mut third = server.client();
    let refused = third
        .post()
        .body(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    third.session = None;

    let during = scrape(&server).await;
    for family in [
        "switchboard_sessions_open",
        "switchboard_session_age_seconds",
        "switchboard_requests",
        "switchboard_request_duration_seconds",
        "switchboard_tool_call_duration_seconds",
        "switchboard_queue_depth",
        "switchboard_in_flight",
        "switchboard_queue_wait_seconds",
        "switchboard_rejections",
        "switchboard_open_streams",
        "switchboard_event_log_bytes",
        "switchboard_session_evictions",
        "switchboard_session_expiries",
        "switchboard_capacity_ratio",
    ] {
        assert!(
            during.contains(&format!("# TYPE {family} ")),
            "{family} missing"
        );
    }
    assert_eq!(value(&during, "switchboard_sessions_open "), 2.0);
    assert_eq!(value(&during, "switchboard_open_streams "), 1.0);
    assert_eq!(
        value(
            &during,
            r#"switchboard_requests_total{method="tools/call",outcome="ok"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &during,
            r#"switchboard_requests_total{method="tools/call",outcome="tool_error"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &during,
            r#"switchboard_tool_call_duration_seconds_count{tool="echo"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &during,
            r#"switchboard_rejections_total{reason="session_cap"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &during,
            r#"switchboard_capacity_ratio{resource="sessions"}"#
        ),
        1.0
    );

    drop(stream);
    assert_eq!(a.delete().await, 200);
    assert_eq!(b.delete().await, 200);
    let after = scrape(&server).await;
    assert_eq!(value(&after, "switchboard_sessions_open "), 0.0);
    assert_eq!(value(&after, "switchboard_session_age_seconds_count "), 2.0);
}
