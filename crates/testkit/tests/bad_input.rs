//! Every kind of bad input gets its documented HTTP status and JSON-RPC
//! error code, and the server keeps serving afterwards.

use serde_json::{Value, json};
use switchboard_testkit::{McpClient, TestServer};

struct Case {
    name: &'static str,
    status: u16,
    /// The JSON-RPC error code of the body, when the answer has one.
    code: Option<i64>,
}

async fn check(case: Case, resp: reqwest::Response) {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(status, case.status, "{}: status (body {body})", case.name);
    if let Some(code) = case.code {
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|_| panic!("{}: JSON body, got {body:?}", case.name));
        assert_eq!(v["jsonrpc"], "2.0", "{}: envelope", case.name);
        assert_eq!(
            v["error"]["code"],
            json!(code),
            "{}: code in {body}",
            case.name
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{}: message",
            case.name
        );
    }
}

/// A POST with the session header only, so a test can set the rest.
fn bare(c: &McpClient) -> reqwest::RequestBuilder {
    c.http
        .post(&c.url)
        .header("mcp-session-id", c.session.clone().unwrap())
}

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

#[tokio::test]
async fn bad_input_table() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let no_session = McpClient::new(&server.url());
    let ended = {
        let mut e = server.client();
        e.initialize(json!({})).await;
        assert_eq!(e.delete().await, 200);
        e
    };

    let cases: Vec<(Case, reqwest::RequestBuilder)> = vec![
        (Case { name: "malformed JSON", status: 400, code: Some(-32700) }, c.post().body("{\"jsonrpc\":")),
        (Case { name: "empty body", status: 400, code: Some(-32700) }, c.post().body("")),
        (
            Case { name: "wrong jsonrpc version", status: 400, code: Some(-32600) },
            c.post().body(r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#),
        ),
        (
            Case { name: "missing method", status: 400, code: Some(-32600) },
            c.post().body(r#"{"jsonrpc":"2.0","id":1,"params":{}}"#),
        ),
        (
            Case { name: "id that is an object", status: 400, code: Some(-32600) },
            c.post().body(r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#),
        ),
        (
            Case { name: "not an object", status: 400, code: Some(-32600) },
            c.post().body("42"),
        ),
        (
            Case { name: "unknown method", status: 200, code: Some(-32601) },
            c.post().body(r#"{"jsonrpc":"2.0","id":1,"method":"no/such"}"#),
        ),
        (
            Case { name: "invalid params", status: 200, code: Some(-32602) },
            c.post().body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}"#),
        ),
        (
            Case { name: "unknown tool", status: 200, code: Some(-32602) },
            c.post().body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}}"#),
        ),
        (
            Case { name: "unknown resource", status: 200, code: Some(-32002) },
            c.post().body(r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"test://nope"}}"#),
        ),
        (
            Case { name: "bad cursor", status: 200, code: Some(-32602) },
            c.post().body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"zzz"}}"#),
        ),
        (
            Case { name: "oversized body", status: 413, code: Some(-32600) },
            c.post().body(format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#, "a".repeat(5 << 20))),
        ),
        (
            Case { name: "deep nesting", status: 400, code: Some(-32700) },
            c.post().body(format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{}{}}}"#, "[".repeat(5000), "]".repeat(5000))),
        ),
        (
            Case { name: "wrong content type", status: 415, code: Some(-32600) },
            bare(&c).header("content-type", "text/plain").header("accept", "application/json, text/event-stream").body(PING),
        ),
        (
            Case { name: "Accept allows neither JSON nor SSE", status: 406, code: Some(-32600) },
            bare(&c).header("content-type", "application/json").header("accept", "text/html").body(PING),
        ),
        (Case { name: "missing session id", status: 400, code: Some(-32001) }, no_session.post().body(PING)),
        (
            Case { name: "unknown session id", status: 404, code: Some(-32001) },
            no_session.post().header("mcp-session-id", "nope").body(PING),
        ),
        (
            Case { name: "session id with a space", status: 400, code: Some(-32001) },
            no_session.post().header("mcp-session-id", "a b").body(PING),
        ),
        (Case { name: "ended session id", status: 404, code: Some(-32001) }, ended.post().body(PING)),
        (Case { name: "ended session id (GET)", status: 404, code: Some(-32001) }, ended.get()),
        (Case { name: "ended session id (DELETE)", status: 404, code: Some(-32001) }, ended.http.delete(server.url()).header("mcp-session-id", ended.session.clone().unwrap())),
        (
            Case { name: "foreign Origin", status: 403, code: Some(-32600) },
            c.post().header("origin", "http://evil.example.com").body(PING),
        ),
        (
            Case { name: "foreign Host", status: 403, code: Some(-32600) },
            c.post().header("host", "evil.example.com").body(PING),
        ),
        (
            Case { name: "unsupported protocol version", status: 400, code: Some(-32600) },
            bare(&c)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "1999-01-01")
                .body(PING),
        ),
        (
            Case { name: "batch outside 2025-03-26", status: 400, code: Some(-32600) },
            c.post().body(format!("[{PING}]")),
        ),
        (
            Case { name: "initialize with a session id", status: 400, code: Some(-32600) },
            c.post().body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}"#),
        ),
        (
            Case { name: "initialize without protocolVersion", status: 400, code: Some(-32602) },
            no_session.post().body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#),
        ),
        (
            Case { name: "GET without text/event-stream", status: 406, code: Some(-32600) },
            c.http.get(server.url()).header("mcp-session-id", c.session.clone().unwrap()).header("accept", "application/json"),
        ),
        (
            Case { name: "GET with a bad Last-Event-ID", status: 400, code: Some(-32600) },
            c.get().header("last-event-id", "nonsense"),
        ),
        (Case { name: "PUT", status: 405, code: Some(-32600) }, c.http.put(server.url()).body(PING)),
        (
            Case { name: "too many headers", status: 431, code: None },
            (0..150).fold(c.post().body(PING), |rb, i| rb.header(format!("x-h{i}"), "v")),
        ),
    ];
    for (case, rb) in cases {
        let resp = rb.send().await.expect(case.name);
        check(case, resp).await;
    }

    // Still serving, on the old session and a new one.
    let (pong, _) = c.call("ping", json!({})).await;
    assert_eq!(pong["result"], json!({}));
    let mut fresh = server.client();
    fresh.initialize(json!({})).await;
    let (pong, _) = fresh.call("ping", json!({})).await;
    assert_eq!(pong["result"], json!({}));
}
