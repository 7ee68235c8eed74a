//! Shedding at arrival: with the server full, a request no running handler
//! waits for is refused before its body is read (503, `Retry-After`, a
//! JSON-RPC error saying why), while everything a waiting handler needs —
//! its client's answer, the session's GET stream, DELETE — still passes,
//! and so do notifications, in every era. A client that does not wait
//! out `Retry-After` has its next refusal held.

use std::net::{Ipv4Addr, SocketAddr};

use serde_json::{Value, json};
use switchboard_server::{AnonymousMode, Config};
use switchboard_testkit::{McpClient, RawConn, Reply, SseReader, TestServer, tenant_with_key};

/// One running slot, no queue: a handler waiting on its client fills it.
fn full_at_one() -> Config {
    Config {
        max_in_flight: 1,
        max_queue: 0,
        ..Config::default()
    }
}

/// `a` calls the elicitation tool; returns its stream and the server's
/// `elicitation/create` request, which the handler (holding the only slot)
/// now waits on.
async fn waiting_handler(a: &McpClient) -> (SseReader, Value) {
    let Reply::Sse(mut s) = a
        .request(
            1,
            "tools/call",
            json!({"name": "test_elicitation", "arguments": {"message": "m"}}),
        )
        .await
    else {
        panic!("SSE expected")
    };
    let _priming = s.next().await.unwrap();
    let asked = s.next().await.unwrap().json().unwrap();
    assert_eq!(asked["method"], "elicitation/create");
    (s, asked)
}

/// A server full at one slot, held by `a`'s handler, which waits on its
/// client for the answer to `asked` (on `stream`); `idle` has a session
/// and nothing running.
struct Full {
    server: TestServer,
    idle: McpClient,
    a: McpClient,
    stream: SseReader,
    asked: Value,
}

async fn full() -> Full {
    let server = TestServer::with(full_at_one(), switchboard_everything::everything()).await;
    let mut idle = server.client();
    idle.initialize(json!({})).await;
    let mut a = server.client();
    a.initialize(json!({"elicitation": {}})).await;
    let (stream, asked) = waiting_handler(&a).await;
    Full {
        server,
        idle,
        a,
        stream,
        asked,
    }
}

/// A refusal for load: 503 with `Retry-After` and a JSON-RPC error body
/// that says the server is busy and why.
async fn assert_shed(resp: reqwest::Response) {
    assert_refused(resp, 503, "busy (queue_full)").await;
}

/// A refusal at arrival: `status` with `Retry-After` and a JSON-RPC error
/// (-32000) whose message contains `says`.
async fn assert_refused(resp: reqwest::Response, status: u16, says: &str) {
    assert_eq!(resp.status(), status);
    assert!(resp.headers().contains_key("retry-after"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], -32000, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains(says), "{v}");
}

/// The first answer other than 200 to `probe`'s ping, polled every 10 ms
/// (at most 500 times) while the server fills; `why` names what should
/// have filled it.
async fn first_refusal(probe: &McpClient, why: &str) -> reqwest::Response {
    let ping = json!({"jsonrpc": "2.0", "id": 7, "method": "ping"});
    for _ in 0..500 {
        let resp = probe.post().body(ping.to_string()).send().await.unwrap();
        if resp.status() != 200 {
            return resp;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("not refused: {why}");
}

/// The server's listening address, for raw connections.
fn address(server: &TestServer) -> SocketAddr {
    server
        .url()
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_handler_waiting_on_its_client_completes_while_the_rest_is_shed() {
    let Full {
        server,
        idle,
        a,
        mut stream,
        asked,
    } = full().await;

    // Everything else is refused at arrival: work of an idle session, even
    // a ping, and a new session.
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "x"}}});
    assert_shed(idle.post().body(call.to_string()).send().await.unwrap()).await;
    let ping = json!({"jsonrpc": "2.0", "id": 3, "method": "ping"});
    assert_shed(idle.post().body(ping.to_string()).send().await.unwrap()).await;
    let hello = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "late", "version": "1"}}});
    let fresh = server.client();
    assert_shed(fresh.post().body(hello.to_string()).send().await.unwrap()).await;
    // A notification passes, even from the idle session: its small body is
    // read, and it carries no request.
    let changed = json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"});
    let resp = idle.post().body(changed.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), 202);

    // What the waiting handler's session needs passes: its GET stream, a
    // ping while its request runs, and its answer.
    let get = a.get().send().await.unwrap();
    assert_eq!(get.status(), 200);
    let (pong, _) = a.call("ping", json!({})).await;
    assert_eq!(pong["result"], json!({}));
    let answer = json!({"jsonrpc": "2.0", "id": asked["id"], "result": {
        "action": "accept", "content": {"username": "u", "email": "u@example.com"}}});
    let status = a.respond(&answer).await;
    assert_eq!(status, 202);
    let done = stream.next().await.unwrap().json().unwrap();
    assert_eq!(done["id"], 1, "{done}");
    assert!(done["result"]["content"].is_array(), "{done}");

    // DELETE is never shed; with the slot free, the idle session works again.
    drop(get);
    let r = idle.call_tool("echo", json!({"message": "after"})).await;
    assert_eq!(r["content"][0]["text"], "after");
    assert_eq!(idle.delete().await, 200);
}

/// A client that does not wait out a refusal's `Retry-After` is not
/// refused faster for it: its next refusal is held until that wait is
/// over, so refusals cannot crowd out the work let in. It is still a 503
/// with `Retry-After`, and what the waiting handler needs still passes.
/// (The bound is the server's deliberate hold, from below: a slow machine
/// only makes the wait longer.)
#[tokio::test]
async fn a_client_that_does_not_wait_out_retry_after_has_its_next_refusal_held() {
    let Full {
        server: _running,
        idle,
        a,
        mut stream,
        asked,
    } = full().await;

    let ping = json!({"jsonrpc": "2.0", "id": 3, "method": "ping"});
    assert_shed(idle.post().body(ping.to_string()).send().await.unwrap()).await;
    let asked_again = std::time::Instant::now();
    let again = idle.post().body(ping.to_string()).send().await.unwrap();
    let held = asked_again.elapsed();
    assert_shed(again).await;
    assert!(held >= std::time::Duration::from_millis(500), "{held:?}");

    let answer = json!({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "decline"}});
    assert_eq!(a.respond(&answer).await, 202);
    assert_eq!(stream.next().await.unwrap().json().unwrap()["id"], 1);
}

#[tokio::test]
async fn a_large_body_to_a_full_server_is_refused_unread() {
    let server = TestServer::with(full_at_one(), switchboard_everything::everything()).await;
    let mut b = server.client();
    b.initialize(json!({})).await;
    let mut a = server.client();
    a.initialize(json!({"elicitation": {}})).await;
    let (_stream, _asked) = waiting_handler(&a).await;

    // Only the head of a 3 MB POST (under max_body_bytes) is sent: the
    // answer must come without the server reading a byte of the body.
    let addr = address(&server);
    let head = |session: Option<&str>| {
        let mut h = "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
             accept: application/json, text/event-stream\r\ncontent-length: 3000000\r\n"
            .to_owned();
        if let Some(s) = session {
            h += &format!("mcp-session-id: {s}\r\nmcp-protocol-version: 2025-11-25\r\n");
        }
        h + "\r\n"
    };
    for session in [b.session.as_deref(), None] {
        let mut conn = RawConn::open(addr, Ipv4Addr::LOCALHOST).await;
        let reply = conn.send(&head(session)).await;
        assert_eq!(reply.status, 503, "{reply:?}");
        assert!(
            reply.head.to_ascii_lowercase().contains("retry-after: 1"),
            "{}",
            reply.head
        );
        let v: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(v["error"]["code"], -32000, "{v}");
        assert_eq!(v["id"], Value::Null, "the body was not read: {v}");
    }
}

/// Two tenants of equal weight share a queue of two: each may have one
/// request waiting. A tenant with its one waiter is refused at arrival
/// with 429 (its share, not the server, is full); the other is not.
#[tokio::test]
async fn a_tenant_over_its_share_is_refused_with_429_and_the_other_is_not() {
    let (busy, busy_key) = tenant_with_key("busy", "agent");
    let (quiet, quiet_key) = tenant_with_key("quiet", "agent");
    let mut config = full_at_one();
    config.max_queue = 2;
    config.queue_deadline_ms = 60_000;
    config.auth.anonymous = AnonymousMode::Off;
    config.tenants = vec![busy, quiet];
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let client = |key: &str| McpClient::with_token(&server.url(), key);
    let (mut a, mut waiter, mut probe, mut other) = (
        client(&busy_key),
        client(&busy_key),
        client(&busy_key),
        client(&quiet_key),
    );
    for c in [&mut waiter, &mut probe, &mut other] {
        c.initialize(json!({})).await;
    }
    a.initialize(json!({"elicitation": {}})).await;
    let (mut stream, asked) = waiting_handler(&a).await;
    // The busy tenant's second call waits in the queue.
    let waiting =
        tokio::spawn(async move { waiter.call_tool("echo", json!({"message": "waited"})).await });
    let resp = first_refusal(&probe, "the tenant's waiter is queued").await;
    assert_refused(resp, 429, "tenant_share").await;
    let ping = json!({"jsonrpc": "2.0", "id": 7, "method": "ping"});
    // The other tenant's share is free: it comes in.
    let resp = other.post().body(ping.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    let answer = json!({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "decline"}});
    let status = a.respond(&answer).await;
    assert_eq!(status, 202);
    assert_eq!(stream.next().await.unwrap().json().unwrap()["id"], 1);
    let r = waiting.await.unwrap();
    assert_eq!(r["content"][0]["text"], "waited");
}

/// Requests are counted in hand from their arrival, before admission sees
/// them: requests whose bodies are still coming fill the arrival cap
/// (`max_in_flight + max_queue`, here 2) with no handler running, and the
/// next request of their tenant is refused at once (503, "crowded",
/// `Retry-After`). A tenant holding none of them is under its share and
/// comes in; once the bodies come and are answered, the first tenant does
/// too.
#[tokio::test]
async fn requests_in_hand_past_the_cap_are_refused_at_arrival_but_not_another_tenants() {
    let (busy, busy_key) = tenant_with_key("busy", "agent");
    let (quiet, quiet_key) = tenant_with_key("quiet", "agent");
    let mut config = Config {
        max_in_flight: 1,
        max_queue: 1,
        ..Config::default()
    };
    config.auth.anonymous = AnonymousMode::Off;
    config.tenants = vec![busy, quiet];
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let (mut probe, mut other) = (
        McpClient::with_token(&server.url(), &busy_key),
        McpClient::with_token(&server.url(), &quiet_key),
    );
    probe.initialize(json!({})).await;
    other.initialize(json!({})).await;
    let addr = address(&server);
    let session = probe.session.clone().unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "ping"}).to_string();
    let (first, rest) = body.split_at(10);
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut conn = RawConn::open(addr, Ipv4Addr::LOCALHOST).await;
        conn.write(&format!(
            "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
             accept: application/json, text/event-stream\r\nauthorization: Bearer {busy_key}\r\n\
             mcp-session-id: {session}\r\nmcp-protocol-version: 2025-11-25\r\n\
             content-length: {}\r\n\r\n{first}",
            body.len()
        ))
        .await;
        slow.push(conn);
    }

    // Once the server has both in hand, the busy tenant is refused.
    let resp = first_refusal(&probe, "two requests are in hand").await;
    assert_refused(resp, 503, "busy (crowded)").await;
    let ping = json!({"jsonrpc": "2.0", "id": 7, "method": "ping"});
    // The quiet tenant holds nothing: under its share, it comes in.
    let resp = other.post().body(ping.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    // The slow requests are answered once their bodies come; then the busy
    // tenant is let in again.
    for conn in &mut slow {
        conn.write(rest).await;
        let reply = conn.reply().await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(reply.body.contains("\"id\":9"), "{reply:?}");
    }
    let resp = probe.post().body(ping.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

/// The HTTP+SSE era (2024-11-05): a session's POSTs come on `/messages`.
/// With the server full, its request is refused at arrival (503, not the
/// 202 that would otherwise promise an answer on the stream), while its
/// notification passes.
#[tokio::test]
async fn http_sse_requests_are_shed_and_notifications_pass() {
    let server = TestServer::with(full_at_one(), switchboard_everything::everything()).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let resp = http
        .get(format!("{base}/sse"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let mut events = SseReader::new(resp);
    let endpoint = events.next().await.unwrap();
    let url = format!("{base}{}", endpoint.data);
    let post = |body: Value| {
        http.post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}}});
    assert_eq!(post(init).await.unwrap().status(), 202);
    assert_eq!(events.next().await.unwrap().json().unwrap()["id"], 1);
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(initialized).await.unwrap().status(), 202);

    let mut a = server.client();
    a.initialize(json!({"elicitation": {}})).await;
    let (mut stream, asked) = waiting_handler(&a).await;

    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
    assert_shed(post(ping.clone()).await.unwrap()).await;
    let changed = json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"});
    assert_eq!(post(changed).await.unwrap().status(), 202);

    let answer = json!({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "decline"}});
    assert_eq!(a.respond(&answer).await, 202);
    assert_eq!(stream.next().await.unwrap().json().unwrap()["id"], 1);
    // Room again: the same ping is answered on the stream.
    assert_eq!(post(ping).await.unwrap().status(), 202);
    let pong = events.next().await.unwrap().json().unwrap();
    assert_eq!(pong["id"], 2, "{pong}");
}
