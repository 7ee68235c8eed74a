//! What a session keeps is bounded: its record (the client's
//! `capabilities` and `clientInfo`, its subscriptions) by
//! `max_session_bytes`, and the records of one client identity together by
//! `max_session_bytes_per_identity` — through Streamable HTTP, HTTP+SSE,
//! the stdio front and tasks. Counted, not timed: the bytes refused, and
//! the bytes the store holds, read from the store itself.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_server::{App, Config};
use switchboard_store::{MemorySessionStore, SessionRecord, SessionStore};
use switchboard_testkit::{McpClient, ModernClient, Reply, SseReader};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;

/// A server whose session store the test reads.
struct Node {
    base: String,
    store: Arc<MemorySessionStore>,
    _stop: oneshot::Sender<()>,
}

impl Node {
    async fn start(config: Config) -> Self {
        let store =
            Arc::new(MemorySessionStore::new().with_max_record_bytes(config.max_session_bytes));
        let catalog = switchboard_everything::everything()
            .build()
            .expect("catalog");
        let app = App::builder(config, Arc::new(catalog))
            .store(store.clone())
            .build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(switchboard_server::serve(listener, app, async {
            let _ = stopped.await;
        }));
        Self {
            base,
            store,
            _stop: stop,
        }
    }

    fn client(&self) -> McpClient {
        McpClient::new(&format!("{}/mcp", self.base))
    }

    /// Every record the store holds.
    async fn records(&self) -> Vec<SessionRecord> {
        self.store.scan(None, 10_000).await.expect("scan").items
    }

    /// The bytes the store holds, over every session (one identity here:
    /// every test client comes from 127.0.0.1).
    async fn held(&self) -> usize {
        self.records().await.iter().map(|r| r.stored_bytes()).sum()
    }
}

/// Capabilities whose JSON takes about `n` bytes.
fn padded(n: usize) -> Value {
    json!({"experimental": {"pad": "x".repeat(n)}})
}

/// An `initialize`: its status, JSON body and session id.
async fn initialize(c: &McpClient, capabilities: &Value, info: &Value) -> (StatusCode, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": capabilities, "clientInfo": info}});
    let resp = c.post().body(body.to_string()).send().await.expect("post");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A client holding a session opened with `capabilities`, or the refusal.
async fn open(node: &Node, capabilities: &Value) -> Result<McpClient, (StatusCode, Value)> {
    let mut c = node.client();
    let info = json!({"name": "t", "version": "1"});
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": capabilities, "clientInfo": info}});
    let resp = c.post().body(body.to_string()).send().await.expect("post");
    let status = resp.status();
    let sid = resp
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    match sid {
        Some(sid) if status == StatusCode::OK => {
            c.session = Some(sid);
            Ok(c)
        }
        _ => Err((status, v)),
    }
}

#[tokio::test]
async fn initialize_past_max_session_bytes_is_refused_and_nothing_is_kept() {
    let node = Node::start(Config::default()).await;
    let max = Config::default().max_session_bytes;
    let info = json!({"name": "t", "version": "1"});
    // The reproduction: 3 MiB of capabilities.
    let caps = padded(3 << 20);
    let (status, v) = initialize(&node.client(), &caps, &info).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], -32602, "{v}");
    let sent = caps.to_string().len() + info.to_string().len();
    assert_eq!(v["error"]["data"]["bytes"], sent);
    assert_eq!(v["error"]["data"]["limit"], max);
    let message = v["error"]["message"].as_str().expect("message");
    assert!(message.contains("max_session_bytes"), "{message}");

    // One byte over, counted over both fields (clientInfo too).
    let caps = json!({});
    let room = max - caps.to_string().len() - json!({"name": ""}).to_string().len();
    let info = json!({"name": "y".repeat(room + 1)});
    let (status, v) = initialize(&node.client(), &caps, &info).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["data"]["bytes"], max + 1);
    assert_eq!(
        node.records().await.len(),
        0,
        "a refused session keeps nothing"
    );

    // What real clients send is far below the bound, and kept as sent.
    let sdk = json!({"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {"listChanged": true}});
    open(&node, &sdk).await.expect("a session");
    let records = node.records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].client_capabilities.get(), sdk.to_string());
    assert!(
        records[0].stored_bytes() < 1024,
        "{}",
        records[0].stored_bytes()
    );
}

/// The limits of the identity tests: records up to 8 KiB, 30000 bytes per
/// identity; sessions of 6000 bytes of capabilities take a little more
/// than 6000 bytes each, so four fit and a fifth does not.
fn small_budget() -> Config {
    Config {
        max_session_bytes: 8192,
        max_session_bytes_per_identity: 30_000,
        ..Config::default()
    }
}

#[tokio::test]
async fn an_identity_holds_at_most_its_byte_budget() {
    let node = Node::start(small_budget()).await;
    let budget = 30_000;
    let big = padded(6000);
    let mut admitted = Vec::new();
    let mut refused = 0;
    for _ in 0..8 {
        match open(&node, &big).await {
            Ok(c) => admitted.push(c),
            Err((status, v)) => {
                assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{v}");
                assert_eq!(v["error"]["code"], -32005, "{v}");
                assert_eq!(
                    v["error"]["data"]["quota"],
                    "max_session_bytes_per_identity"
                );
                refused += 1;
            }
        }
    }
    assert_eq!((admitted.len(), refused), (4, 4));
    let held = node.held().await;
    let one = held / 4;
    assert!(held <= budget && held + one > budget, "held {held}");

    // It is bytes, not sessions: a small session still fits.
    open(&node, &json!({})).await.expect("a small session fits");
    assert!(node.held().await <= budget);
    // An ended session gives its bytes back.
    assert!(admitted.pop().expect("one").delete().await.is_success());
    open(&node, &big).await.expect("room again");
    assert!(matches!(
        open(&node, &big).await,
        Err((StatusCode::TOO_MANY_REQUESTS, _))
    ));
    assert!(node.held().await <= budget);
}

/// `resources/subscribe` to a template URI of `n` bytes: the status and body.
async fn subscribe(c: &McpClient, tag: usize, n: usize) -> (StatusCode, Value) {
    let uri = format!("test://template/{tag}{}/data", "a".repeat(n));
    let body =
        json!({"jsonrpc": "2.0", "id": 7, "method": "resources/subscribe", "params": {"uri": uri}});
    let resp = c.post().body(body.to_string()).send().await.expect("post");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn subscriptions_grow_a_record_only_to_its_bound() {
    let config = Config {
        max_session_bytes: 4096,
        ..Config::default()
    };
    let node = Node::start(config).await;
    let c = open(&node, &json!({})).await.expect("a session");
    let mut kept = 0;
    // Refused as the method's answer (200), as its other bad params are.
    let refusal = loop {
        let (status, v) = subscribe(&c, kept, 1000).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        if v.get("error").is_some() {
            break v;
        }
        kept += 1;
        assert!(kept < 10, "never refused");
    };
    assert_eq!(refusal["error"]["code"], -32602, "{refusal}");
    assert_eq!(refusal["error"]["data"]["limit"], 4096);
    let record = node.records().await.pop().expect("the session");
    assert_eq!(
        record.subscriptions.len(),
        kept,
        "the refused one is not kept"
    );
    assert!(record.stored_bytes() <= 4096);
    assert!(
        record.stored_bytes() + 1000 > 4096,
        "refused only at the bound"
    );
    // A short one still fits.
    let (status, v) = subscribe(&c, 99, 1).await;
    assert_eq!(
        (status, v.get("result").is_some()),
        (StatusCode::OK, true),
        "{v}"
    );
}

/// `GET /sse`: the events and the messages URL.
async fn sse_session(base: &str) -> (SseReader, String) {
    let resp = reqwest::Client::new()
        .get(format!("{base}/sse"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("GET /sse");
    assert_eq!(resp.status(), 200);
    let mut events = SseReader::new(resp);
    let endpoint = events.next().await.expect("the endpoint event");
    (events, format!("{base}{}", endpoint.data))
}

/// `initialize` over HTTP+SSE: the answer on the stream.
async fn sse_initialize(events: &mut SseReader, url: &str, capabilities: &Value) -> Value {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": capabilities,
        "clientInfo": {"name": "old", "version": "1"}}});
    let status = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(init.to_string())
        .send()
        .await
        .expect("POST")
        .status();
    assert_eq!(status, 202);
    events
        .next()
        .await
        .expect("the answer")
        .json()
        .expect("JSON")
}

/// HTTP+SSE creates the session when the stream opens and fills in the
/// client's capabilities at `initialize`: that growth is bounded and
/// counted against the identity as a new session is.
#[tokio::test]
async fn http_sse_initialize_is_bounded_and_counted() {
    let node = Node::start(small_budget()).await;
    let (mut events, url) = sse_session(&node.base).await;
    let v = sse_initialize(&mut events, &url, &padded(9000)).await;
    assert_eq!(v["error"]["code"], -32602, "{v}");
    let record = node.records().await.pop().expect("the session");
    assert_eq!(record.client_capabilities.get(), "{}", "nothing kept");

    let mut streams = vec![events];
    let (mut answered, mut refused) = (0, 0);
    for _ in 0..5 {
        let (mut events, url) = sse_session(&node.base).await;
        let v = sse_initialize(&mut events, &url, &padded(6000)).await;
        if v.get("result").is_some() {
            answered += 1;
        } else {
            assert_eq!(v["error"]["code"], -32005, "{v}");
            refused += 1;
        }
        streams.push(events);
    }
    // Six bare sessions (a few hundred bytes each) leave room for four
    // records of 6000 bytes of capabilities, not five.
    assert_eq!((answered, refused), (4, 1));
    let sizes: Vec<usize> = node
        .records()
        .await
        .iter()
        .map(|r| r.stored_bytes())
        .collect();
    let held: usize = sizes.iter().sum();
    let growth = sizes.iter().max().unwrap() - sizes.iter().min().unwrap();
    assert!(held <= 30_000 && held + growth > 30_000, "{sizes:?}");
}

#[tokio::test]
async fn stdio_initialize_and_subscriptions_are_bounded() {
    let catalog = Arc::new(
        switchboard_everything::everything()
            .build()
            .expect("catalog"),
    );
    let (mut client_write, server_read) = tokio::io::duplex(1 << 16);
    let (server_write, client_read) = tokio::io::duplex(1 << 16);
    let mut limits = switchboard_server::StdioOptions::new(1 << 20);
    limits.max_session_bytes = 4096;
    let server = tokio::spawn(switchboard_server::serve_stdio_with(
        catalog,
        server_read,
        server_write,
        limits,
    ));
    let mut lines = BufReader::new(client_read).lines();
    let init = |id: u64, caps: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": caps, "clientInfo": {"name": "t"}}})
    };
    for (id, caps) in [(1, padded(5000)), (2, json!({}))] {
        let line = format!("{}\n", init(id, caps));
        client_write
            .write_all(line.as_bytes())
            .await
            .expect("write");
    }
    let refused: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(refused["id"], 1);
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert_eq!(refused["error"]["data"]["limit"], 4096);
    let ok: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(ok["result"]["protocolVersion"], "2025-06-18", "{ok}");
    // Its subscriptions are bounded too: URIs of 1000 bytes, three fit.
    let mut kept = 0;
    for tag in 0..6 {
        let uri = format!("test://template/{tag}{}/data", "a".repeat(1000 - 22));
        assert_eq!(uri.len(), 1000);
        let sub = json!({"jsonrpc": "2.0", "id": 10 + tag, "method": "resources/subscribe", "params": {"uri": uri}});
        let line = format!("{sub}\n");
        client_write
            .write_all(line.as_bytes())
            .await
            .expect("write");
        let v: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
        if v.get("result").is_some() {
            kept += 1;
        } else {
            assert_eq!(v["error"]["code"], -32602, "{v}");
            assert_eq!(v["error"]["data"]["bytes"], 5000);
        }
    }
    assert_eq!(kept, 4, "4 x 1000 bytes within 4096, a fifth not");
    drop(client_write);
    server.await.expect("join").expect("clean end");
}

/// A 2026-07-28 request carries its capabilities in `_meta`; a task keeps
/// them for its life, so they are bounded as a session's are.
#[tokio::test]
async fn a_task_keeps_no_capabilities_past_the_bound() {
    let node = Node::start(Config {
        max_session_bytes: 4096,
        ..Config::default()
    })
    .await;
    let mut c = ModernClient::new(&format!("{}/mcp", node.base));
    let extensions = json!({"io.modelcontextprotocol/tasks": {}});
    c.capabilities = json!({"extensions": extensions, "experimental": {"pad": "x".repeat(5000)}});
    let params = json!({"name": "slow_compute", "arguments": {"seconds": 1, "label": "t"}});
    match c.request(1, "tools/call", params.clone()).await {
        Reply::Other(status, body) => {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            let v: Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(v["error"]["code"], -32602, "{v}");
            assert_eq!(v["error"]["data"]["limit"], 4096);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    c.capabilities = json!({"extensions": extensions});
    match c.request(2, "tools/call", params).await {
        Reply::Json(v) => assert_eq!(v["result"]["resultType"], "task", "{v}"),
        other => panic!("expected a task, got {other:?}"),
    }
}
