//! Traces end to end: the real binary with `[telemetry] otlp_endpoint`
//! pointing at an OTLP/HTTP receiver in this test, a stdio upstream (the
//! Python fixture), and one `tools/call` carrying a client `traceparent`.
//! The receiver must get the request span as a child of the client's span,
//! with the admission wait, the store calls and the upstream call as its
//! children; and the upstream must have seen the upstream span's
//! `traceparent` in `_meta`.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_testkit::McpClient;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../upstream/tests/fixtures/fixture_server.py"
);
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

/// The spans posted so far, and the paths they were posted to.
#[derive(Default)]
struct Received {
    spans: Vec<Value>,
    paths: Vec<String>,
}

/// An OTLP/HTTP receiver: HTTP/1.1 POSTs with a `Content-Length`, each
/// answered `200 {}`; the spans of JSON bodies are kept.
async fn receiver() -> (String, Arc<Mutex<Received>>) {
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

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gateway_call_is_one_span_tree_under_the_clients_trace() {
    let (collector, got) = receiver().await;
    let dir = std::env::temp_dir().join(format!("sb-traces-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[telemetry]\notlp_endpoint = \"{collector}\"\n\n\
             [[upstreams]]\nname = \"up\"\ncommand = \"python3\"\nargs = [\"{SCRIPT}\"]\ncall_timeout_secs = 20\n"
        ),
    )
    .unwrap();
    let node = support::Node::spawn(Some(&config), &[]);

    let mut c = McpClient::new(&node.url);
    c.initialize(json!({})).await;
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "up__meta", "arguments": {}}});
    let resp = c
        .post()
        .header("traceparent", format!("00-{TRACE}-{CLIENT_SPAN}-01"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let reply = match McpClient::classify(resp).await {
        switchboard_testkit::Reply::Json(v) => v,
        other => panic!("tools/call: {other:?}"),
    };
    let seen_meta = reply["result"]["structuredContent"]["value"].clone();
    let seen = seen_meta["traceparent"]
        .as_str()
        .unwrap_or_else(|| panic!("the upstream saw no traceparent: {reply}"))
        .to_owned();

    // The request span ends after the reply is written: wait for it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let spans = loop {
        let spans: Vec<Value> = got
            .lock()
            .unwrap()
            .spans
            .iter()
            .filter(|s| s["traceId"] == TRACE)
            .cloned()
            .collect();
        let has_request = spans.iter().any(|s| s["name"] == "request");
        if has_request && spans.len() >= 4 {
            // A moment more for the rest of the batch, then look.
            tokio::time::sleep(Duration::from_secs(1)).await;
            break got
                .lock()
                .unwrap()
                .spans
                .iter()
                .filter(|s| s["traceId"] == TRACE)
                .cloned()
                .collect::<Vec<_>>();
        }
        assert!(
            Instant::now() < deadline,
            "no span tree arrived; spans so far: {spans:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(got.lock().unwrap().paths.iter().all(|p| p == "/v1/traces"));

    let request = spans
        .iter()
        .find(|s| s["name"] == "request")
        .expect("a request span");
    assert_eq!(request["parentSpanId"], CLIENT_SPAN, "{request}");
    assert_eq!(request["kind"], 2, "a server span");
    assert_eq!(
        attr(request, "method"),
        Some(&json!({"stringValue": "tools/call"}))
    );
    let id = request["spanId"].as_str().unwrap();
    assert_ne!(id, CLIENT_SPAN);
    let children: Vec<&Value> = spans.iter().filter(|s| s["parentSpanId"] == id).collect();
    let names: Vec<&str> = children.iter().filter_map(|s| s["name"].as_str()).collect();
    for wanted in ["admission", "store", "upstream"] {
        assert!(
            names.contains(&wanted),
            "{wanted} missing under the request: {names:?}"
        );
    }
    let load = children
        .iter()
        .find(|s| s["name"] == "store" && attr(s, "call") == Some(&json!({"stringValue": "load"})));
    assert!(load.is_some(), "a store load span: {children:?}");
    let upstream = children.iter().find(|s| s["name"] == "upstream").unwrap();
    assert_eq!(upstream["kind"], 3, "a client span");
    assert_eq!(
        attr(upstream, "upstream"),
        Some(&json!({"stringValue": "up"}))
    );
    for s in &spans {
        let (start, end) = (&s["startTimeUnixNano"], &s["endTimeUnixNano"]);
        let (start, end): (u128, u128) = (
            start.as_str().unwrap().parse().unwrap(),
            end.as_str().unwrap().parse().unwrap(),
        );
        assert!(start <= end, "{s}");
    }

    // The upstream got the upstream span as its parent, in the same trace.
    let upstream_id = upstream["spanId"].as_str().unwrap();
    assert_eq!(seen, format!("00-{TRACE}-{upstream_id}-01"));

    // A bad traceparent is ignored: the call works and starts a new trace.
    let resp = c
        .post()
        .header("traceparent", "00-zz-nonsense-01")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = std::fs::remove_dir_all(&dir);
}
