//! Traces end to end: the real binary with `[telemetry] otlp_endpoint`
//! pointing at an OTLP/HTTP receiver in this test, a stdio upstream (the
//! Python fixture), and one `tools/call` carrying a client `traceparent`.
//! The receiver must get the request span as a child of the client's span,
//! with the admission wait, the store calls and the upstream call as its
//! children; and the upstream must have seen the upstream span's
//! `traceparent` in `_meta`. The same through an HTTP upstream (a second
//! `switchboard serve`, behind a relay that records its requests): the
//! upstream must have got the upstream span's `traceparent` header, and its
//! own request span must continue the trace under the upstream span.

use crate::otlp;
use crate::support;
use crate::tee;

use serde_json::{Value, json};
use switchboard_testkit::McpClient;

use otlp::{attr, receiver, wait_for, wait_for_request};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../upstream/tests/fixtures/fixture_server.py"
);
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

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
    let reply = call_in_trace(&c, &body).await;
    let seen_meta = reply["result"]["structuredContent"]["value"].clone();
    let seen = seen_meta["traceparent"]
        .as_str()
        .unwrap_or_else(|| panic!("the upstream saw no traceparent: {reply}"))
        .to_owned();

    // The request span ends after the reply is written: wait for it.
    let spans = wait_for_request(&got, TRACE, 4).await;
    assert!(got.lock().unwrap().paths.iter().all(|p| p == "/v1/traces"));
    let upstream = gateway_tree(&spans);

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

/// A `tools/call` of `body` with the client's `traceparent`; its reply.
async fn call_in_trace(c: &McpClient, body: &Value) -> Value {
    let resp = c
        .post()
        .header("traceparent", format!("00-{TRACE}-{CLIENT_SPAN}-01"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    match McpClient::classify(resp).await {
        switchboard_testkit::Reply::Json(v) => v,
        other => panic!("tools/call: {other:?}"),
    }
}

/// Check the gateway's spans of one `tools/call` to upstream `up`: the
/// request span under the client's, the admission wait, a store load and
/// the upstream call under it; the upstream span.
fn gateway_tree(spans: &[Value]) -> &Value {
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
    let upstream = *children.iter().find(|s| s["name"] == "upstream").unwrap();
    assert_eq!(upstream["kind"], 3, "a client span");
    assert_eq!(
        attr(upstream, "upstream"),
        Some(&json!({"stringValue": "up"}))
    );
    for s in spans {
        let (start, end) = (&s["startTimeUnixNano"], &s["endTimeUnixNano"]);
        let (start, end): (u128, u128) = (
            start.as_str().unwrap().parse().unwrap(),
            end.as_str().unwrap().parse().unwrap(),
        );
        assert!(start <= end, "{s}");
    }

    upstream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_upstream_gets_the_upstream_span_as_its_traceparent() {
    // The upstream: a second node with the built-in toolset, exporting its
    // own spans to a receiver of its own, behind the recording relay.
    let (upstream_collector, upstream_got) = receiver().await;
    let dir = std::env::temp_dir().join(format!("sb-traces-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let upstream_config = dir.join("upstream.toml");
    std::fs::write(
        &upstream_config,
        format!("[telemetry]\notlp_endpoint = \"{upstream_collector}\"\n"),
    )
    .unwrap();
    let upstream_node = support::Node::spawn(Some(&upstream_config), &[]);
    let (authority, path) = upstream_node
        .url
        .trim_start_matches("http://")
        .split_once('/')
        .expect("a URL with a path");
    let tee = tee::Tee::start(authority.to_owned()).await;

    let (collector, got) = receiver().await;
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[telemetry]\notlp_endpoint = \"{collector}\"\n\n\
             [[upstreams]]\nname = \"up\"\nkind = \"http\"\nurl = \"http://{}/{path}\"\ncall_timeout_secs = 20\n",
            tee.addr
        ),
    )
    .unwrap();
    let node = support::Node::spawn(Some(&config), &[]);

    let mut c = McpClient::new(&node.url);
    c.initialize(json!({})).await;
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "up__echo", "arguments": {"message": "traced"}}});
    let reply = call_in_trace(&c, &body).await;
    assert_eq!(reply["result"]["content"][0]["text"], "traced", "{reply}");

    let spans = wait_for_request(&got, TRACE, 4).await;
    let upstream = gateway_tree(&spans);
    let upstream_id = upstream["spanId"].as_str().unwrap();
    assert_ne!(upstream_id, CLIENT_SPAN);

    // The header the upstream got with the call.
    let requests = tee.requests();
    let calls: Vec<&tee::Request> = requests
        .iter()
        .filter(|r| r.body.contains("\"tools/call\""))
        .collect();
    assert_eq!(calls.len(), 1, "one tools/call went to the upstream");
    assert_eq!(
        calls[0].header("traceparent"),
        Some(format!("00-{TRACE}-{upstream_id}-01").as_str()),
        "{}",
        calls[0].head
    );

    // And the upstream continued the trace under the gateway's upstream
    // span: every request it served in it (the session the call opened,
    // then the call) is a child of that span.
    let is_call = |s: &Value| {
        s["name"] == "request" && attr(s, "method") == Some(&json!({"stringValue": "tools/call"}))
    };
    let theirs = wait_for(&upstream_got, TRACE, |spans| spans.iter().any(is_call)).await;
    let requests: Vec<&Value> = theirs.iter().filter(|s| s["name"] == "request").collect();
    for request in &requests {
        assert_eq!(request["parentSpanId"], upstream_id, "{request}");
    }
    assert_eq!(requests.iter().filter(|s| is_call(s)).count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
