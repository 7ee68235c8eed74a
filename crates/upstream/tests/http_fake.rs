//! An HTTP upstream against a scripted fake server, for what a real
//! Switchboard never does: refusing the GET stream, choosing an older or an
//! unknown version, failing with plain HTTP errors.

use crate::http_support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http_support::*;
use parking_lot::Mutex;
use serde_json::{Value, json};
use switchboard_upstream::{HttpSpec, UpstreamError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the fake saw: method, headers (lower-case names), body.
type Seen = (String, HashMap<String, String>, String);
/// What the fake answers: status, content type, body.
type Answer = (u16, &'static str, String);

/// A fake server answering each request with `script`, one connection per
/// request (it closes every connection after answering).
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    async fn start(script: fn(&str, &Value) -> Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, script, log.clone()));
            }
        });
        Self { url, seen, task }
    }

    fn seen(&self, method: &str) -> Vec<Seen> {
        let seen = self.seen.lock();
        seen.iter().filter(|s| s.0 == method).cloned().collect()
    }
}

async fn serve(
    mut stream: TcpStream,
    script: fn(&str, &Value) -> Answer,
    seen: Arc<Mutex<Vec<Seen>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.split("\r\n");
    let method = lines
        .next()
        .unwrap_or("")
        .split(' ')
        .next()
        .unwrap_or("")
        .to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&body).to_string();
    let message: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let (status, content_type, reply) = script(&method, &message);
    seen.lock().push((method, headers, body));
    let session = if message["method"] == "initialize" {
        "mcp-session-id: fake-1\r\n"
    } else {
        ""
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{session}connection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
}

fn result(message: &Value, result: Value) -> Answer {
    let body = json!({"jsonrpc": "2.0", "id": message["id"], "result": result});
    (200, "application/json", body.to_string())
}

/// A 2025-06-18 server without a GET stream: initialize, notifications,
/// `echo` (its arguments back) and `fail` (HTTP 500).
fn old_server(method: &str, message: &Value) -> Answer {
    match (method, message["method"].as_str()) {
        ("GET", _) => (405, "text/plain", "no stream here".into()),
        (_, Some("initialize")) => result(
            message,
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "fake", "version": "1"}}),
        ),
        (_, Some(m)) if m.starts_with("notifications/") => (202, "text/plain", String::new()),
        (_, Some("tools/call")) if message["params"]["name"] == "fail" => {
            (500, "text/plain", "something broke".into())
        }
        (_, Some("tools/call")) => result(message, message["params"]["arguments"].clone()),
        _ => (400, "text/plain", "unexpected".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_server_without_a_stream() {
    let fake = Fake::start(old_server).await;
    let spec = HttpSpec::new("fake", fake.url.clone()).with_header("X-Upstream-Key", "k1");
    let (up, _) = start(&spec).await.expect("starts without a GET stream");
    assert_eq!(up.protocol_version(), "2025-06-18");
    assert_eq!(up.session_id(), Some("fake-1"));
    let echoed = tool(&up, "echo", json!({"n": 7})).await.unwrap();
    assert_eq!(echoed, json!({"n": 7}));

    let outcome = tool(&up, "fail", json!({})).await;
    let Err(UpstreamError::Http(why)) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        why.contains("500") && why.contains("something broke"),
        "{why}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(up.is_alive(), "neither a 405 nor a 500 ends the session");
    assert_eq!(fake.seen("GET").len(), 1, "a refused stream is not retried");

    let posts = fake.seen("POST");
    let (_, init, _) = &posts[0];
    assert!(!init.contains_key("mcp-session-id") && !init.contains_key("mcp-protocol-version"));
    for (_, headers, body) in &posts[1..] {
        assert_eq!(headers["mcp-session-id"], "fake-1", "{body}");
        assert_eq!(headers["mcp-protocol-version"], "2025-06-18", "{body}");
    }
    assert!(posts.iter().all(|(_, h, _)| h["x-upstream-key"] == "k1"));
    assert!(posts[1].2.contains("notifications/initialized"));

    up.kill().await;
    assert_eq!(fake.seen("DELETE").len(), 1, "the session is deleted");
}

fn ancient_server(_: &str, message: &Value) -> Answer {
    result(
        message,
        json!({"protocolVersion": "2024-11-05", "capabilities": {}, "serverInfo": {"name": "old"}}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_without_streamable_http_is_refused() {
    let fake = Fake::start(ancient_server).await;
    let outcome = start(&HttpSpec::new("ancient", fake.url.clone()))
        .await
        .map(drop);
    let Err(UpstreamError::Init(why)) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(why.contains("2024-11-05"), "{why}");
    assert_eq!(
        fake.seen("DELETE").len(),
        1,
        "the half-open session is deleted"
    );
}

fn silent_server(method: &str, message: &Value) -> Answer {
    match message["method"].as_str() {
        Some("initialize") => (
            200,
            "application/json",
            json!({"jsonrpc": "2.0", "id": 99, "result": {}}).to_string(),
        ),
        _ => (400, "text/plain", format!("{method}?")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_another_id_is_not_taken() {
    let fake = Fake::start(silent_server).await;
    let outcome = start(&HttpSpec::new("confused", fake.url.clone()))
        .await
        .map(drop);
    let Err(UpstreamError::Init(why)) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(why.contains("not the response"), "{why}");
}
