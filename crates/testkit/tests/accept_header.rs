//! `Accept` on the MCP endpoint, as docs/security.md states it: a POST is
//! answered in a type the client accepts (no `Accept` at all: any), 406
//! when it accepts neither JSON nor SSE; a weight of 0 excludes a type
//! (RFC 9110 §12.4.2); a GET stream needs SSE.

use serde_json::json;
use switchboard_testkit::{McpClient, TestServer};

const PING: &str = r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#;

/// Status and `Content-Type` of a POST `ping` with this `Accept` (none if
/// `None`).
async fn ping(c: &McpClient, accept: Option<&str>) -> (u16, String) {
    let mut rb = c
        .http
        .post(&c.url)
        .header("content-type", "application/json")
        .header("mcp-session-id", c.session.clone().unwrap());
    if let Some(a) = accept {
        rb = rb.header("accept", a);
    }
    let resp = rb.body(PING).send().await.unwrap();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (resp.status().as_u16(), ct)
}

#[tokio::test]
async fn a_post_is_answered_in_a_type_the_client_accepts() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    for (accept, status, media) in [
        (None, 200, "application/json"),
        (
            Some("application/json, text/event-stream"),
            200,
            "application/json",
        ),
        (Some("application/json"), 200, "application/json"),
        (Some("*/*"), 200, "application/json"),
        (Some("text/event-stream"), 200, "text/event-stream"),
        (
            Some("application/json;q=0, text/event-stream"),
            200,
            "text/event-stream",
        ),
        (Some("application/*;q=0, */*"), 200, "text/event-stream"),
        (Some("text/html"), 406, "application/json"),
        (Some(""), 406, "application/json"),
        (Some("*/*;q=0"), 406, "application/json"),
        (
            Some("application/json;q=0, text/event-stream;q=0.000"),
            406,
            "application/json",
        ),
    ] {
        let (got, ct) = ping(&c, accept).await;
        assert_eq!(got, status, "Accept {accept:?}");
        assert!(ct.starts_with(media), "Accept {accept:?}: {ct}");
    }
    for accept in ["application/json", "text/event-stream;q=0, */*"] {
        let resp = c
            .http
            .get(&c.url)
            .header("mcp-session-id", c.session.clone().unwrap())
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 406, "GET with Accept {accept}");
    }
    server.stop().await;
}
