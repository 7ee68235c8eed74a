//! An OTLP/HTTP receiver for the trace tests: it keeps the spans posted to
//! it, and the helpers read them.
// Each test file uses a subset.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The spans posted so far, and the paths they were posted to.
#[derive(Default)]
pub struct Received {
    pub spans: Vec<Value>,
    pub paths: Vec<String>,
}

/// An OTLP/HTTP receiver: HTTP/1.1 POSTs with a `Content-Length`, each
/// answered `200 {}`; the spans of JSON bodies are kept.
pub async fn receiver() -> (String, Arc<Mutex<Received>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Received::default()));
    let keep = got.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(connection(conn, keep.clone()));
        }
    });
    (url, got)
}

async fn connection(conn: tokio::net::TcpStream, got: Arc<Mutex<Received>>) {
    let mut conn = BufReader::new(conn);
    loop {
        let mut request_line = String::new();
        if conn.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            if conn.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if conn.read_exact(&mut body).await.is_err() {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        if let Ok(v) = serde_json::from_slice::<Value>(&body) {
            let mut g = got.lock().unwrap();
            g.paths.push(path);
            for rs in v["resourceSpans"].as_array().into_iter().flatten() {
                for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                    g.spans
                        .extend(ss["spans"].as_array().into_iter().flatten().cloned());
                }
            }
        }
        let reply =
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        if conn.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

pub fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

/// The spans of `trace` received so far.
pub fn spans_of(got: &Mutex<Received>, trace: &str) -> Vec<Value> {
    let got = got.lock().unwrap();
    got.spans
        .iter()
        .filter(|s| s["traceId"] == trace)
        .cloned()
        .collect()
}

/// Wait (30 s at most) until the spans of `trace` include a `request` span
/// and are at least `least`, then a moment more for the rest of the batch;
/// those spans.
pub async fn wait_for_request(got: &Mutex<Received>, trace: &str, least: usize) -> Vec<Value> {
    wait_for(got, trace, |spans| {
        spans.iter().any(|s| s["name"] == "request") && spans.len() >= least
    })
    .await
}

/// Wait (30 s at most) until the spans of `trace` satisfy `done`, then a
/// moment more for the rest of the batch; those spans.
pub async fn wait_for(
    got: &Mutex<Received>,
    trace: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let spans = spans_of(got, trace);
        if done(&spans) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            return spans_of(got, trace);
        }
        assert!(
            Instant::now() < deadline,
            "no span tree arrived; spans so far: {spans:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
