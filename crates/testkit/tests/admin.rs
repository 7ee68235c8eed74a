//! The admin API on its own listener: the admin token guards every route
//! (and tenants' keys do not open it), sessions are listed, shown and
//! ended — an ended session's streams, handlers and stdio upstream process
//! all end — tenants and upstreams are shown with their usage, draining
//! refuses new sessions only, and the stats snapshot holds together.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_runtime::CatalogBuilder;
use switchboard_server::{AnonymousMode, Config, RateConfig};
use switchboard_testkit::{McpClient, SseReader, TestServer, tenant_with_key};
use switchboard_upstream::gateway::{StdioProvider, UpstreamConfig};

use crate::fixture_upstream;
use fixture_upstream::{call, fixture, value};

/// Generous bound for things that happen promptly (2 shared cores).
const WAIT: Duration = Duration::from_secs(15);

/// A configuration with an admin token; returns it and the token.
fn admin_config() -> (Config, String) {
    let (token, digest) = switchboard_auth::new_api_key();
    let mut c = Config::default();
    c.admin.token_sha256 = Some(digest.into());
    c.admin.node_id = Some("node-a".into());
    (c, token)
}

/// An admin request: method, path under `/admin/v1`, bearer token.
async fn admin(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut rb = reqwest::Client::new().request(method, format!("{}{path}", server.admin_url()));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let resp = rb.send().await.expect("admin request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

async fn get(server: &TestServer, path: &str, token: &str) -> Value {
    let (status, body, _) = admin(server, reqwest::Method::GET, path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

const ROUTES: [(&str, &str); 9] = [
    ("GET", "/no-such-endpoint"),
    ("GET", "/node"),
    ("GET", "/sessions"),
    ("GET", "/sessions/abc"),
    ("DELETE", "/sessions/abc"),
    ("GET", "/tenants"),
    ("GET", "/upstreams"),
    ("GET", "/stats"),
    ("POST", "/drain"),
];

#[tokio::test]
async fn every_admin_route_needs_the_admin_token_and_no_other() {
    let (mut config, token) = admin_config();
    let (t, tenant_key) = tenant_with_key("acme", "agent");
    config.tenants = vec![t];
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    for (method, path) in ROUTES {
        let method: reqwest::Method = method.parse().unwrap();
        for presented in [None, Some("sb_wrong"), Some(tenant_key.as_str()), Some("")] {
            let (status, body, headers) = admin(&server, method.clone(), path, presented).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {presented:?}"
            );
            assert!(body["error"].is_string(), "{body}");
            let challenge = headers["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
        }
    }
    assert!(!server.app.is_draining(), "a refused drain did nothing");
    // The MCP endpoint does not take the admin token either.
    let c = McpClient::with_token(&server.url(), &token);
    let r = c
        .post()
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "not a tenant's key");
    // The dashboard page is static and open; an unknown admin path is 404.
    let base = format!("http://{}", server.admin_addr.unwrap());
    for page in ["/", "/dashboard"] {
        let r = reqwest::get(format!("{base}{page}")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("<html"));
    }
    let (status, _, _) = admin(&server, reqwest::Method::GET, "/nope", Some(&token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_a_configured_admin_token_nothing_is_let_in() {
    let server = TestServer::start().await;
    assert!(server.admin_addr.is_none(), "not started without a token");
    // Even if someone serves the router anyway, no token opens it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(switchboard_server::serve_admin(
        listener,
        server.app.clone(),
        std::future::pending(),
    ));
    for token in ["", "sb_anything"] {
        let r = reqwest::Client::new()
            .get(format!("http://{addr}/admin/v1/node"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn node_and_sessions_are_listed_filtered_and_shown() {
    let (mut config, token) = admin_config();
    let (a, a_key) = tenant_with_key("alpha", "agent");
    let (b, b_key) = tenant_with_key("beta", "agent");
    config.tenants = vec![a, b];
    config.auth.anonymous = AnonymousMode::Off;
    let server = TestServer::with(config, switchboard_everything::everything()).await;

    let node = get(&server, "/node", &token).await;
    assert_eq!(node["node"], "node-a");
    assert_eq!(node["store"], "memory");
    assert_eq!(node["draining"], false);
    assert_eq!(node["version"], env!("CARGO_PKG_VERSION"));
    assert!(node["started_ms"].as_u64().unwrap() > 0);

    let mut ca = McpClient::with_token(&server.url(), &a_key);
    ca.initialize(json!({})).await;
    let mut cb = McpClient::with_token(&server.url(), &b_key);
    cb.initialize(json!({})).await;
    let mut cb2 = McpClient::with_token(&server.url(), &b_key);
    cb2.initialize(json!({})).await;
    for _ in 0..3 {
        ca.call_tool("echo", json!({"message": "hi"})).await;
    }

    let all = get(&server, "/sessions", &token).await;
    assert_eq!(all["node"], "node-a");
    assert_eq!(all["total"], 3);
    assert_eq!(all["sessions"].as_array().unwrap().len(), 3);
    let beta = get(&server, "/sessions?tenant=beta", &token).await;
    assert_eq!(beta["total"], 2);
    assert!(
        beta["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["tenant"] == "beta")
    );
    let one = get(&server, "/sessions?tenant=beta&limit=1", &token).await;
    assert_eq!(one["total"], 2);
    assert_eq!(one["sessions"].as_array().unwrap().len(), 1);
    let (status, body, _) = admin(
        &server,
        reqwest::Method::GET,
        "/sessions?limit=x",
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let id = ca.session.clone().unwrap();
    let s = get(&server, &format!("/sessions/{id}"), &token).await;
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["tenant"], "alpha");
    assert_eq!(s["principal"], "key:agent");
    assert_eq!(s["era"], "2025-11-25");
    assert_eq!(s["requests"], 3);
    assert_eq!(s["in_flight"], 0);
    assert_eq!(s["open_streams"], 0);
    assert_eq!(s["node"], "node-a");
    assert_eq!(s["client"]["name"], "testkit");
    assert_eq!(s["upstream_processes"], json!([]));
    assert!(s["created_ms"].as_u64().unwrap() > 0);

    let (status, body, _) = admin(
        &server,
        reqwest::Method::GET,
        "/sessions/no-such-session",
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no such session");
    let (status, _, _) = admin(
        &server,
        reqwest::Method::DELETE,
        "/sessions/no-such-session",
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Ending a session without streams or upstreams: its client gets 404.
    let (status, body, _) = admin(
        &server,
        reqwest::Method::DELETE,
        &format!("/sessions/{id}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"ended": true}));
    let r = ca
        .post()
        .body(json!({"jsonrpc": "2.0", "id": 9, "method": "ping"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(get(&server, "/sessions", &token).await["total"], 2);
}

#[tokio::test]
async fn tenants_show_usage_against_their_limits() {
    let (mut config, token) = admin_config();
    let (mut a, a_key) = tenant_with_key("alpha", "agent");
    a.max_sessions = Some(5);
    a.max_in_flight = Some(7);
    a.weight = 3;
    a.name = Some("Alpha Inc".into());
    a.rate = Some(RateConfig {
        per_second: 0.0001,
        burst: 4,
    });
    let (b, _) = tenant_with_key("beta", "agent");
    config.tenants = vec![a, b];
    config.auth.anonymous = AnonymousMode::Off;
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let mut c1 = McpClient::with_token(&server.url(), &a_key);
    c1.initialize(json!({})).await;
    let mut c2 = McpClient::with_token(&server.url(), &a_key);
    c2.initialize(json!({})).await;
    // Burst 4: the fifth and sixth calls are rate limited.
    for _ in 0..6 {
        let body = json!({"jsonrpc": "2.0", "id": c1.id(), "method": "tools/call",
                          "params": {"name": "echo", "arguments": {"message": "hi"}}});
        c1.post().body(body.to_string()).send().await.unwrap();
    }
    let tenants = get(&server, "/tenants", &token).await;
    let list = tenants["tenants"].as_array().unwrap();
    let alpha = list.iter().find(|t| t["id"] == "alpha").expect("alpha");
    let beta = list.iter().find(|t| t["id"] == "beta").expect("beta");
    assert_eq!(alpha["name"], "Alpha Inc");
    assert_eq!(alpha["weight"], 3);
    assert_eq!(alpha["usage"]["sessions"], 2);
    assert_eq!(alpha["usage"]["in_flight"], 0);
    assert_eq!(alpha["usage"]["streams"], 0);
    assert_eq!(alpha["usage"]["upstream_processes"], 0);
    assert_eq!(alpha["limits"]["max_sessions"], 5);
    assert_eq!(alpha["limits"]["max_in_flight"], 7);
    assert_eq!(alpha["limits"]["max_streams"], Value::Null);
    assert_eq!(alpha["limits"]["rate"]["burst"], 4);
    assert_eq!(alpha["counters"]["requests"], 4);
    assert_eq!(alpha["counters"]["rate_limited"], 2);
    assert_eq!(alpha["counters"]["rejected"], 2);
    assert_eq!(beta["usage"]["sessions"], 0);
    assert_eq!(beta["limits"]["rate"], Value::Null);
    assert_eq!(beta["counters"]["requests"], 0);
}

async fn gateway(config: Config, upstreams: Vec<UpstreamConfig>) -> TestServer {
    let mut builder = CatalogBuilder::new();
    for u in upstreams {
        let p = Arc::new(StdioProvider::new(u));
        p.probe().await.expect("upstream starts");
        builder = builder.provider(p);
    }
    TestServer::with(config, builder).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstreams_and_stats_show_processes_calls_and_latency() {
    let (mut config, token) = admin_config();
    config.upstreams = vec![fixture("up")];
    let server = gateway(config.clone(), config.upstreams.clone()).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    for _ in 0..3 {
        assert!(value(&call(&c, "up__count", json!({})).await).is_u64());
    }
    let ups = get(&server, "/upstreams", &token).await;
    let up = &ups["upstreams"][0];
    assert_eq!(up["name"], "up");
    assert_eq!(up["kind"], "stdio");
    assert_eq!(up["prefix"], "up__");
    assert_eq!(up["breaker"], "closed");
    assert!(up["processes"]["running"].as_u64().unwrap() >= 1, "{up}");
    assert!(up["requests"].as_u64().unwrap() >= 3, "{up}");
    assert_eq!(up["errors"], 0);
    assert!(up["tools"].as_u64().unwrap() > 3, "{up}");
    assert!(up["restarts"].is_u64() && up["kills"].is_u64());

    let stats = get(&server, "/stats", &token).await;
    assert_eq!(stats["node"], "node-a");
    assert_eq!(stats["draining"], false);
    assert_eq!(stats["sessions"]["total"], 1);
    assert_eq!(stats["sessions"]["by_tenant"]["anonymous"], 1);
    let calls = &stats["requests"]["by_method"]["tools/call"];
    assert_eq!(calls["count"], 3, "{stats}");
    assert_eq!(calls["errors"], 0);
    let le = calls["latency"]["le_ms"].as_array().unwrap();
    let counts = calls["latency"]["counts"].as_array().unwrap();
    assert_eq!(le.len(), counts.len());
    assert!(!le.is_empty());
    assert!(
        counts.windows(2).all(|w| w[0].as_u64() <= w[1].as_u64()),
        "cumulative: {counts:?}"
    );
    assert!(calls["latency"]["sum_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(stats["queue"]["in_flight"], 0);
    assert_eq!(stats["queue"]["max_in_flight"], 512);
    assert!(stats["rejections"]["queue_full"].is_u64(), "{stats}");
    assert_eq!(stats["upstreams"][0]["name"], "up");
    let top = stats["top_sessions"].as_array().unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0]["id"], c.session.clone().unwrap().as_str());
    assert_eq!(top[0]["requests"], 3);
    let names: Vec<&str> = stats["capacity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for name in ["sessions", "in_flight", "queue", "upstream up processes"] {
        assert!(names.contains(&name), "{names:?}");
    }
    assert_eq!(stats["cluster"], Value::Null);
}

#[tokio::test]
async fn draining_refuses_new_sessions_and_serves_existing_ones() {
    let (config, token) = admin_config();
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let mut old = server.client();
    old.initialize(json!({})).await;
    let ready = reqwest::get(format!("http://{}/readyz", server.addr))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    let (status, body, _) = admin(&server, reqwest::Method::POST, "/drain", Some(&token)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, json!({"draining": true}));
    assert_eq!(get(&server, "/node", &token).await["draining"], true);

    // A new session over Streamable HTTP: 503, Retry-After, a JSON-RPC error.
    let fresh = server.client();
    let r = fresh
        .post()
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["id"], 1);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("draining"),
        "{body}"
    );
    // …and over the 2024-11-05 transport.
    let r = reqwest::Client::new()
        .get(format!("http://{}/sse", server.addr))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    // Not ready, saying why; the old session still works.
    let ready = reqwest::get(format!("http://{}/readyz", server.addr))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "draining");
    assert!(ready["reason"].is_string());
    let echoed = old
        .call_tool("echo", json!({"message": "still here"}))
        .await;
    assert!(echoed["content"].is_array(), "{echoed}");
    let stats = get(&server, "/stats", &token).await;
    assert_eq!(stats["draining"], true);
    assert_eq!(stats["rejections"]["draining"], 2, "{stats}");
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

async fn gone_within(pid: u64, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    !alive(pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_session_ends_its_stream_handler_and_upstream_process() {
    let (mut config, token) = admin_config();
    config.upstreams = vec![fixture("up")];
    let server = gateway(config.clone(), config.upstreams.clone()).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let pid = value(&call(&c, "up__pid", json!({})).await)
        .as_u64()
        .unwrap();
    let grandchild = value(&call(&c, "up__spawn_child", json!({})).await)
        .as_u64()
        .unwrap();
    assert!(alive(pid) && alive(grandchild));
    let id = c.session.clone().unwrap();

    // An open standalone stream and a handler that never finishes.
    let stream = c.get().send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let mut stream = SseReader::new(stream);
    let hang = {
        let post = c.post().body(
            json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call",
                   "params": {"name": "up__hang", "arguments": {}}})
            .to_string(),
        );
        tokio::spawn(async move {
            let resp = post.send().await.expect("post");
            // Read the whole body: it ends when the handler is cancelled.
            resp.bytes().await.map(|b| b.len())
        })
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    let shown = loop {
        let s = get(&server, &format!("/sessions/{id}"), &token).await;
        if s["in_flight"] == 1 && s["open_streams"].as_u64() >= Some(1) {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "never running: {s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        shown["upstream_processes"],
        json!([{"upstream": "up", "pid": pid}])
    );

    let (status, body, _) = admin(
        &server,
        reqwest::Method::DELETE,
        &format!("/sessions/{id}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"ended": true}));

    // The GET stream ends (no more events, the body closes).
    let ended = tokio::time::timeout(WAIT, async { while stream.next().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the GET stream did not end");
    // The running handler's response ends too.
    let finished = tokio::time::timeout(WAIT, hang).await;
    assert!(finished.is_ok(), "the hung call's response did not end");
    // The upstream process and its own child are gone.
    assert!(gone_within(pid, WAIT).await, "upstream process {pid} lives");
    assert!(
        gone_within(grandchild, WAIT).await,
        "its child {grandchild} lives"
    );
    // Nothing of the session is left.
    let (status, _, _) = admin(
        &server,
        reqwest::Method::GET,
        &format!("/sessions/{id}"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(get(&server, "/sessions", &token).await["total"], 0);
    assert_eq!(server.app.live_sessions(), 0);
    let r = c
        .post()
        .body(json!({"jsonrpc": "2.0", "id": 5, "method": "ping"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let ups = get(&server, "/upstreams", &token).await;
    assert!(ups["upstreams"][0]["kills"].as_u64().unwrap() >= 1, "{ups}");
    // No stream, request or count of it is left behind.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let stats = get(&server, "/stats", &token).await;
        if stats["streams"] == 0 && stats["queue"]["in_flight"] == 0 {
            assert_eq!(stats["sessions"]["by_tenant"]["anonymous"], 0, "{stats}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "left over: {stats}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
