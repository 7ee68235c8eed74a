//! The 2024-11-05 HTTP+SSE transport and the stdio front.

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_testkit::{SseReader, StdioClient, TestServer};

async fn post_message(http: &reqwest::Client, url: &str, body: Value) -> u16 {
    http.post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn http_sse_2024_11_05_session() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let resp = http
        .get(format!("{base}/sse"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut events = SseReader::new(resp);
    let endpoint = events.next().await.unwrap();
    assert_eq!(endpoint.event.as_deref(), Some("endpoint"));
    assert!(endpoint.data.starts_with("/messages?sessionId="));
    let url = format!("{base}{}", endpoint.data);

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}}});
    assert_eq!(post_message(&http, &url, init).await, 202);
    let answer = events.next().await.unwrap();
    assert_eq!(answer.event.as_deref(), Some("message"));
    let v = answer.json().unwrap();
    assert_eq!(v["id"], 1);
    assert_eq!(v["result"]["protocolVersion"], "2024-11-05");
    assert_eq!(
        post_message(
            &http,
            &url,
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        )
        .await,
        202
    );

    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": 9}}});
    assert_eq!(post_message(&http, &url, call).await, 202);
    let mut progress = 0;
    loop {
        let v = events.next().await.unwrap().json().unwrap();
        if v["method"] == "notifications/progress" {
            assert_eq!(v["params"]["progressToken"], 9);
            progress += 1;
        } else {
            assert_eq!(v["id"], 2);
            assert!(v["result"]["content"].is_array());
            break;
        }
    }
    assert_eq!(progress, 3);
    assert_eq!(server.app.live_sessions(), 1);

    // The session ends with its stream.
    drop(events);
    for _ in 0..200 {
        if server.app.live_sessions() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(server.app.live_sessions(), 0);
    assert_eq!(
        post_message(
            &http,
            &url,
            json!({"jsonrpc": "2.0", "id": 3, "method": "ping"})
        )
        .await,
        404
    );
}

#[tokio::test]
async fn stdio_front_in_process() {
    let catalog = Arc::new(switchboard_everything::everything().build().unwrap());
    let mut c = StdioClient::start(catalog);
    c.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {"elicitation": {}}, "clientInfo": {"name": "t", "version": "1"}}}))
    .await;
    assert_eq!(c.next().await["result"]["protocolVersion"], "2025-06-18");
    c.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "test_elicitation", "arguments": {"message": "who?"}}}))
        .await;
    let req = c.next().await;
    assert_eq!(req["method"], "elicitation/create");
    c.send(&json!({"jsonrpc": "2.0", "id": req["id"], "result": {"action": "accept", "content": {"username": "ada", "email": "a@b"}}}))
        .await;
    let v = c.next().await;
    assert_eq!(v["id"], 2);
    assert!(
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("ada")
    );
    c.send(&json!({"jsonrpc": "2.0", "id": 3, "method": "nope"}))
        .await;
    assert_eq!(c.next().await["error"]["code"], -32601);
    c.send_line("{not json").await;
    assert_eq!(c.next().await["error"]["code"], -32700);
    // End of input: the server returns cleanly.
    c.finish().await;
}
