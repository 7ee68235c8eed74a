//! A `shared` stdio upstream serving several clients at once: what its
//! process sends outside any progress token (a log line, a request to the
//! client) cannot be attributed while calls of different clients are in
//! flight on it, so it reaches none of them — never the wrong one.

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_runtime::CatalogBuilder;
use switchboard_testkit::{McpClient, TestServer};
use switchboard_upstream::gateway::{PoolMode, StdioProvider, UpstreamConfig};

fn shared_fixture() -> UpstreamConfig {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../upstream/tests/fixtures/fixture_server.py"
    );
    UpstreamConfig {
        name: "up".into(),
        command: "python3".into(),
        args: vec![script.into()],
        mode: PoolMode::Shared,
        processes: 1,
        call_timeout_secs: 20,
        ..UpstreamConfig::default()
    }
}

async fn session(server: &TestServer) -> McpClient {
    let mut c = McpClient::new(&server.url());
    c.initialize(json!({})).await;
    c.notify("notifications/initialized", json!({})).await;
    c
}

/// The log lines among notifications.
fn logs(notes: &[Value]) -> Vec<String> {
    notes
        .iter()
        .filter(|n| n["method"] == "notifications/message")
        .map(|n| n["params"]["data"].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_process_never_routes_one_clients_messages_to_another() {
    let provider = Arc::new(StdioProvider::new(shared_fixture()));
    provider.probe().await.expect("upstream starts");
    let server = TestServer::with(
        switchboard_server::Config::default(),
        CatalogBuilder::new().provider(provider),
    )
    .await;
    let (a, b) = (session(&server).await, session(&server).await);

    // Alone on the process, B's late log line reaches B.
    let (r, notes) = b
        .call(
            "tools/call",
            json!({"name": "up__log_later", "arguments": {"ms": 10, "tag": "alone"}}),
        )
        .await;
    assert!(r["result"].is_object(), "{r}");
    assert_eq!(logs(&notes), [r#""later alone""#], "{notes:?}");

    // B's log line comes while A's call (newer) is in flight too: it must
    // not reach A (it may reach B only if A's call had not started yet).
    for round in 0..3 {
        let tag = format!("b{round}");
        let b_call = b.call(
            "tools/call",
            json!({"name": "up__log_later", "arguments": {"ms": 300, "tag": tag}}),
        );
        let a_call = async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            a.call(
                "tools/call",
                json!({"name": "up__slow", "arguments": {"ms": 900, "steps": 1}}),
            )
            .await
        };
        let ((rb, _), (ra, a_notes)) = tokio::join!(b_call, a_call);
        assert!(rb["result"].is_object(), "{rb}");
        assert!(ra["result"].is_object(), "{ra}");
        assert!(logs(&a_notes).is_empty(), "A got B's log line: {a_notes:?}");
    }
    server.stop().await;
}
