//! A stateless (2026-07-28) client through the gateway to an upstream that
//! speaks 2026-07-28 too — `switchboard stdio` as a real child process, and
//! a Switchboard server over HTTP: the request goes on with the client's own
//! `_meta`, so the upstream's input keys, its capability checks and its
//! `Mcp-Param-*` header checks reach the client unchanged.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_runtime::CatalogBuilder;
use switchboard_testkit::{ModernClient, Reply, TestServer};
use switchboard_upstream::gateway::{StdioProvider, UpstreamConfig, UpstreamKind};

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

async fn gateway(upstream: UpstreamConfig) -> TestServer {
    let provider = Arc::new(StdioProvider::new(upstream));
    provider.probe().await.expect("upstream starts");
    TestServer::with(
        switchboard_server::Config::default(),
        CatalogBuilder::new().provider(provider),
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
