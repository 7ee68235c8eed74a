//! An upstream's request to the client that has no `params` (a bare
//! `roots/list`, as the official SDKs send it) reaches the client without
//! `params` — never as `"params": null`, which JSON-RPC and the MCP schema
//! refuse — on every path: relayed mid-call to a session client, bridged
//! into an `input_required` result for a stateless client of a session-era
//! upstream, and passed through from a 2026-07-28 upstream's own
//! `input_required` result. The upstream is the fixture server, a real
//! child process; the two eras are its two ways of asking (see its `roots`
//! tool).

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_runtime::CatalogBuilder;
use switchboard_testkit::{McpClient, ModernClient, Reply, TestServer};
use switchboard_upstream::gateway::{StdioProvider, UpstreamConfig};

use crate::fixture_upstream;
use fixture_upstream::{fixture, value};

/// The fixture with extra arguments (`--modern`, `--fail-start FILE`).
fn fixture_with(args: &[&str]) -> UpstreamConfig {
    let mut config = fixture("up");
    config.args.extend(args.iter().map(|a| (*a).to_owned()));
    config.call_timeout_secs = 20;
    config
}

/// A gateway over `config`; whether its probe succeeded.
async fn gateway(config: UpstreamConfig) -> (TestServer, bool) {
    let provider = Arc::new(StdioProvider::new(config));
    let probed = provider.probe().await.is_ok();
    let server = TestServer::with(
        switchboard_server::Config::default(),
        CatalogBuilder::new().provider(provider),
    )
    .await;
    (server, probed)
}

const ROOTS: &str = r#"{"roots": [{"uri": "file:///work", "name": "work"}]}"#;

/// A message's `params` member, if it has one (`Some(Null)` for a `null`).
fn params_member(message: &Value) -> Option<&Value> {
    message.as_object().and_then(|m| m.get("params"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_client_gets_the_request_without_params() {
    let (server, probed) = gateway(fixture_with(&[])).await;
    assert!(probed);
    let mut c = McpClient::new(&server.url());
    c.initialize(json!({"roots": {}})).await;
    let Reply::Sse(mut s) = c
        .request(
            7,
            "tools/call",
            json!({"name": "up__roots", "arguments": {}}),
        )
        .await
    else {
        panic!("SSE expected: the upstream asks for roots mid-call")
    };
    let request = loop {
        let v = s.next().await.expect("an event").json();
        if let Some(v) = v.filter(|v| v["method"] == "roots/list") {
            break v;
        }
    };
    assert_eq!(params_member(&request), None, "{request}");
    let roots: Value = serde_json::from_str(ROOTS).unwrap();
    let answer = json!({"jsonrpc": "2.0", "id": request["id"], "result": roots});
    let status = c.post().body(answer.to_string()).send().await.unwrap();
    assert_eq!(status.status(), 202);
    let response = loop {
        let v = s.next().await.expect("the response").json();
        if let Some(v) = v.filter(|v| v["id"] == 7) {
            break v;
        }
    };
    assert_eq!(value(&response), roots, "{response}");
    server.stop().await;
}

/// A stateless client's call of `up__roots`: an `input_required` result
/// whose one input request, under `key`, is exactly `{"method":
/// "roots/list"}`; answered on the retry, the call completes with the
/// client's roots.
async fn stateless_roots(server: &TestServer, key: &str) {
    let mut m = ModernClient::new(&server.url());
    m.capabilities = json!({"roots": {}});
    let params = json!({"name": "up__roots", "arguments": {}});
    let (first, _) = m.call("tools/call", params.clone()).await;
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    assert_eq!(
        result["inputRequests"],
        json!({key: {"method": "roots/list"}}),
        "{first}"
    );
    let roots: Value = serde_json::from_str(ROOTS).unwrap();
    let mut retry = params;
    retry["inputResponses"] = json!({key: roots});
    if let Some(state) = result.get("requestState") {
        retry["requestState"] = state.clone();
    }
    let (second, _) = m.call("tools/call", retry).await;
    assert_eq!(second["result"]["resultType"], "complete", "{second}");
    assert_eq!(value(&second), roots, "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateless_client_of_a_session_era_upstream_gets_it_without_params() {
    // Bridged: the upstream asks mid-call; Switchboard turns the request
    // into its own input request (its key) and answers it from the retry.
    let (server, probed) = gateway(fixture_with(&[])).await;
    assert!(probed);
    stateless_roots(&server, "upstream-0").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateless_client_of_a_modern_upstream_gets_it_without_params() {
    // Passed through: the upstream's own input_required result, its key.
    let (server, probed) = gateway(fixture_with(&["--modern"])).await;
    assert!(probed);
    stateless_roots(&server, "client_roots").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_down_at_the_probe_is_asked_its_era_at_first_use() {
    // The first start fails, so the probe never reaches server/discover;
    // the first stateless call asks it, and goes the 2026-07-28 way (the
    // upstream's own key), not bridged into a session (`upstream-0`).
    let dir = std::env::temp_dir().join(format!("sb-bare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = dir.join("failed-once");
    let _ = std::fs::remove_file(&marker);
    let marker_arg = marker.to_str().unwrap();
    let (server, probed) = gateway(fixture_with(&["--modern", "--fail-start", marker_arg])).await;
    assert!(!probed, "the first start fails");
    assert!(marker.exists());
    stateless_roots(&server, "client_roots").await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
