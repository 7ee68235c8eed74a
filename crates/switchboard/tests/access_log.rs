//! The access log of the real binary: one JSON line per MCP request on
//! stderr when it is not a terminal, with the request id (the client's
//! `X-Request-Id` when sane), the session shortened to 8 characters (the
//! whole id never appears), tenant, method, tool, status, outcome and
//! latency; `--log-format text` writes text instead. The lines come from
//! the fronts' access layer: POST `/mcp` and POST `/messages` get one
//! (also when the `Host`/`Origin` check refuses them), GET `/mcp` none,
//! and a streamed reply's line is written when its handler is done.

use std::io::Read;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use switchboard_testkit::{McpClient, ModernClient, SseReader};

/// `switchboard serve` with `args`, stderr captured; returns its URL and
/// the child.
fn spawn(args: &[&str]) -> (String, std::process::Child) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("SWITCHBOARD_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn switchboard");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut banner).unwrap();
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no banner: {banner:?}"))
        .to_owned();
    (url, child)
}

/// Stop the child with SIGTERM (it finishes what is in flight, so every
/// line is written) and return everything it wrote on stderr.
fn stop(mut child: std::process::Child) -> String {
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    if !term.is_ok_and(|s| s.success()) {
        let _ = child.kill();
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = child.wait();
    err
}

/// A tool name that needs escaping in JSON.
const ODD_NAME: &str = "q\"b\\c\u{1}\n\té🦀";

async fn traffic(url: &str) -> String {
    let mut c = McpClient::new(url);
    c.initialize(json!({})).await;
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "hi"}}});
    let resp = c
        .post()
        .header("x-request-id", "req-echo-1")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "req-echo-1", "echoed");
    resp.text().await.unwrap();
    // A tool name with quotes, a backslash, control characters and
    // non-ASCII: unknown, but named in the line as sent.
    let odd = json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call",
        "params": {"name": ODD_NAME, "arguments": {}}});
    let resp = (c.post().header("x-request-id", "req-odd-name"))
        .body(odd.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();
    // An unknown session: 404, still one line.
    let mut stranger = McpClient::new(url);
    stranger.session = Some("nonexistent-session-id".into());
    let resp = stranger
        .post()
        .header("x-request-id", "req-unknown-2")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // A stateless (2026-07-28) call.
    let m = ModernClient::new(url);
    let params = m.with_meta(json!({"name": "echo", "arguments": {"message": "x"}}));
    let resp = m
        .post("tools/call", &params)
        .header("x-request-id", "req-modern-3")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();
    c.session.clone().expect("a session id")
}

fn access_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .filter(|v| v["target"] == "switchboard::access")
        .collect()
}

fn by_id<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    let found: Vec<&Value> = lines.iter().filter(|l| l["request_id"] == id).collect();
    assert_eq!(found.len(), 1, "one line for {id}: {lines:?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_json_access_line_per_request_without_the_session_id() {
    let (url, child) = spawn(&[]);
    let session = traffic(&url).await;
    let stderr = stop(child);
    assert!(
        !stderr.contains(&session),
        "the whole session id must never be logged"
    );
    let lines = access_lines(&stderr);
    let echo = by_id(&lines, "req-echo-1");
    assert_eq!(echo["method"], "tools/call");
    assert_eq!(echo["name"], "echo");
    assert_eq!(echo["tenant"], "anonymous", "{echo}");
    assert_eq!(echo["session"], session[..8]);
    assert_eq!(echo["status"], 200);
    assert_eq!(echo["outcome"], "ok");
    assert_eq!(echo["front"], "mcp");
    assert!(
        echo["latency_ms"].as_f64().is_some_and(|l| l >= 0.0),
        "{echo}"
    );
    assert_eq!(echo["level"], "INFO");

    assert_eq!(by_id(&lines, "req-odd-name")["name"], ODD_NAME);

    let unknown = by_id(&lines, "req-unknown-2");
    assert_eq!(unknown["status"], 404);
    assert_eq!(unknown["outcome"], "http_error");
    assert!(unknown.get("session").is_none(), "{unknown}");

    let modern = by_id(&lines, "req-modern-3");
    assert_eq!(modern["status"], 200);
    assert_eq!(modern["outcome"], "ok");
    assert_eq!(modern["method"], "tools/call");

    // initialize and notifications/initialized got lines with our own ids.
    let init = lines
        .iter()
        .find(|l| l["method"] == "initialize")
        .expect("an initialize line");
    assert_eq!(init["request_id"].as_str().map(str::len), Some(16));
    assert_eq!(init["session"], session[..8]);
}

/// Requests around the one of [`traffic`]: refused by the `Origin` check
/// (POST and GET `/mcp`, POST `/messages`), a message to `/messages`, and
/// a streamed call cancelled after its first event.
async fn more_traffic(url: &str) {
    let mut c = McpClient::new(url);
    c.initialize(json!({})).await;
    let body = json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list"}).to_string();
    let evil = ("origin", "http://evil.example");
    let resp = (c.post().header(evil.0, evil.1))
        .header("x-request-id", "req-origin-post")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-request-id"], "req-origin-post", "echoed");
    let resp = (c.get().header(evil.0, evil.1))
        .header("x-request-id", "req-origin-get")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("x-request-id").is_none(), "no record");
    let messages = format!("{}/messages?sessionId=nope", url.trim_end_matches("/mcp"));
    let http = reqwest::Client::new();
    for (id, origin, status) in [
        ("req-messages", None, 404),
        ("req-origin-messages", Some(evil), 403),
    ] {
        let mut rb = http.post(&messages).header("x-request-id", id);
        if let Some((name, value)) = origin {
            rb = rb.header(name, value);
        }
        let resp = (rb.header("content-type", "application/json"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{id}");
    }
    // A streamed reply: progress first, then cancelled, so the outcome
    // is known only after the stream has begun.
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "sleep", "arguments": {"ms": 5000}, "_meta": {"progressToken": "p"}}});
    let resp = (c.post().header("x-request-id", "req-streamed"))
        .body(call.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut events = SseReader::new(resp);
    // The first event may be a priming one (an id, no data).
    while let Some(event) = events.next().await {
        if event
            .json()
            .is_some_and(|v| v["method"] == "notifications/progress")
        {
            break;
        }
    }
    let cancel = json!({"requestId": 7, "reason": "test"});
    assert_eq!(c.notify("notifications/cancelled", cancel).await, 202);
    while events.next().await.is_some() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_messages_and_streamed_requests_get_their_lines() {
    let (url, child) = spawn(&[]);
    more_traffic(&url).await;
    let lines = access_lines(&stop(child));
    let refused = by_id(&lines, "req-origin-post");
    assert_eq!(refused["status"], 403, "{refused}");
    assert_eq!(refused["outcome"], "http_error");
    assert_eq!(refused["front"], "mcp");
    assert!(
        refused.get("tenant").is_none(),
        "refused before authentication"
    );
    assert!(
        !lines.iter().any(|l| l["request_id"] == "req-origin-get"),
        "GET /mcp gets no access line: {lines:?}"
    );
    for (id, status) in [("req-messages", 404), ("req-origin-messages", 403)] {
        let line = by_id(&lines, id);
        assert_eq!(line["front"], "messages", "{line}");
        assert_eq!(line["status"], status, "{line}");
    }
    let streamed = by_id(&lines, "req-streamed");
    assert_eq!(streamed["status"], 200, "{streamed}");
    assert_eq!(
        streamed["outcome"], "cancelled",
        "written after the stream began"
    );
    assert_eq!(streamed["name"], "sleep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_on_request() {
    let (url, child) = spawn(&["--log-format", "text"]);
    traffic(&url).await;
    let stderr = stop(child);
    let line = stderr
        .lines()
        .find(|l| l.contains("req-echo-1"))
        .expect("an access line");
    assert!(serde_json::from_str::<Value>(line).is_err(), "{line}");
    assert!(line.contains("switchboard::access"), "{line}");
    assert!(line.contains("tools/call"), "{line}");
}
