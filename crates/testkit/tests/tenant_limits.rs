//! Tenants' rate limits, quotas, weighted fair admission and tool
//! policies, end to end over HTTP. Outcomes are counted, never timed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_server::{AnonymousMode, Config, RateConfig, Rules};
use switchboard_testkit::{McpClient, ModernClient, Reply, TestServer, tenant_with_key};

fn closed_config() -> Config {
    let mut c = Config::default();
    c.auth.anonymous = AnonymousMode::Off;
    c
}

/// A rate so slow that nothing refills during a test: only the burst.
fn burst_only(burst: u32) -> RateConfig {
    RateConfig {
        per_second: 0.0001,
        burst,
    }
}

async fn echo(c: &McpClient) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": c.id(), "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"message": "hi"}}});
    c.post().body(body.to_string()).send().await.expect("post")
}

#[tokio::test]
async fn a_tenant_over_its_rate_is_refused_and_others_are_not() {
    let (mut limited, limited_key) = tenant_with_key("limited", "agent");
    limited.rate = Some(burst_only(5));
    let (free, free_key) = tenant_with_key("free", "agent");
    let mut config = closed_config();
    config.tenants = vec![limited, free];
    let server = TestServer::with(config, switchboard_everything::everything()).await;

    let mut a = McpClient::with_token(&server.url(), &limited_key);
    let mut b = McpClient::with_token(&server.url(), &free_key);
    a.initialize(json!({})).await; // not rate limited: sessions have their own quota
    b.initialize(json!({})).await;
    let (mut a_ok, mut a_limited, mut b_ok) = (0, 0, 0);
    for _ in 0..20 {
        let resp = echo(&a).await;
        match resp.status() {
            StatusCode::OK => a_ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                a_limited += 1;
                let retry: u64 = resp.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(retry >= 1);
                let v: Value = resp.json().await.unwrap();
                assert_eq!(v["error"]["code"], -32029);
                assert_eq!(v["error"]["data"]["limit"], "tenant");
            }
            other => panic!("unexpected {other}"),
        }
        if echo(&b).await.status() == StatusCode::OK {
            b_ok += 1;
        }
    }
    assert_eq!(a_ok + a_limited, 20);
    assert_eq!(a_ok, 5, "exactly the burst");
    assert_eq!(b_ok, 20, "the other tenant is untouched");
    server.stop().await;
}

#[tokio::test]
async fn tool_and_session_rates_name_their_limit() {
    let (mut t, key) = tenant_with_key("acme", "agent");
    t.tool_rates.insert("ech*".into(), burst_only(2));
    t.session_rate = Some(burst_only(5));
    let mut config = closed_config();
    config.tenants = vec![t];
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let mut c = McpClient::with_token(&server.url(), &key);
    c.initialize(json!({})).await;
    let statuses: Vec<StatusCode> = futures_util::future::join_all((0..3).map(|_| echo(&c)))
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 2);
    let limited = echo(&c).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let v: Value = limited.json().await.unwrap();
    assert_eq!(v["error"]["data"]["limit"], "tool");
    // Another tool is not held back by echo's rate...
    let (r, _) = c
        .call(
            "tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    assert_eq!(r["result"]["structuredContent"]["sum"], 3.0);
    // ...until the session's own rate (5: four echo attempts and add)
    // runs out.
    let id = c.id();
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"});
    let resp = c.post().body(body.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["data"]["limit"], "session");
    server.stop().await;
}

#[tokio::test]
async fn policies_hide_tools_resources_and_prompts() {
    let (mut t, key) = tenant_with_key("narrow", "agent");
    t.tools = Rules {
        allow: vec!["echo".into(), "add".into(), "test_*".into()],
        deny: vec!["test_sampling".into(), "test_x_mcp_header".into()],
    };
    t.resources = Rules {
        allow: vec![],
        deny: vec![],
    };
    t.prompts = Rules {
        allow: vec!["test_simple_prompt".into()],
        deny: vec![],
    };
    let mut config = closed_config();
    config.tenants = vec![t];
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let mut c = McpClient::with_token(&server.url(), &key);
    c.initialize(json!({})).await;
    let mut names = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let params = if cursor.is_null() {
            json!({})
        } else {
            json!({"cursor": cursor})
        };
        let (r, _) = c.call("tools/list", params).await;
        names.extend(
            r["result"]["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned()),
        );
        cursor = r["result"]["nextCursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert!(names.contains(&"echo".to_owned()));
    assert!(names.contains(&"test_simple_text".to_owned()));
    assert!(!names.contains(&"test_sampling".to_owned()));
    assert!(!names.contains(&"whoami".to_owned()));
    assert!(
        names
            .iter()
            .all(|n| n == "echo" || n == "add" || n.starts_with("test_"))
    );

    // A denied tool answers exactly like one that does not exist.
    let call = |name: &str| json!({"name": name, "arguments": {}});
    let (denied, _) = c.call("tools/call", call("whoami")).await;
    let (missing, _) = c.call("tools/call", call("no_such_tool")).await;
    assert_eq!(denied["error"]["code"], missing["error"]["code"]);
    assert_eq!(
        denied["error"]["message"]
            .as_str()
            .unwrap()
            .replace("whoami", "X"),
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .replace("no_such_tool", "X")
    );
    let (resources, _) = c.call("resources/list", json!({})).await;
    assert_eq!(resources["result"]["resources"], json!([]));
    let (templates, _) = c.call("resources/templates/list", json!({})).await;
    assert_eq!(templates["result"]["resourceTemplates"], json!([]));
    let (read, _) = c
        .call("resources/read", json!({"uri": "test://static-text"}))
        .await;
    assert_eq!(read["error"]["code"], -32002);
    // A templated URI is as hidden as its template.
    let (read, _) = c
        .call("resources/read", json!({"uri": "test://template/1/data"}))
        .await;
    assert_eq!(read["error"]["code"], -32002, "{read}");
    let (prompts, _) = c.call("prompts/list", json!({})).await;
    let prompt_names: Vec<&str> = prompts["result"]["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(prompt_names, vec!["test_simple_prompt"]);

    // The stateless era applies the same policy.
    let m = ModernClient::with_token(&server.url(), &key);
    let (list, _) = m.call("tools/list", json!({})).await;
    assert!(
        list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "whoami")
    );
    let answer = |reply: Reply| match reply {
        Reply::Json(v) => v["error"]["message"].as_str().unwrap().to_owned(),
        Reply::Other(status, body) => format!("{status} {body}"),
        Reply::Sse(_) => panic!("a denied tool must not run"),
    };
    let denied = answer(m.request(2, "tools/call", call("whoami")).await);
    let missing = answer(m.request(2, "tools/call", call("no_such_tool")).await);
    assert_eq!(
        denied.replace("whoami", "X"),
        missing.replace("no_such_tool", "X")
    );
    // A denied tool's mirrored-parameter headers are not checked either:
    // that would reveal the tool and its schema.
    let denied = answer(m.request(2, "tools/call", call("test_x_mcp_header")).await);
    assert_eq!(
        denied.replace("test_x_mcp_header", "X"),
        missing.replace("no_such_tool", "X")
    );
    server.stop().await;
}

#[tokio::test]
async fn session_and_stream_quotas() {
    let (mut t, key) = tenant_with_key("small", "agent");
    t.max_sessions = Some(2);
    t.max_streams = Some(1);
    let mut config = closed_config();
    config.tenants = vec![t];
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let mut first = McpClient::with_token(&server.url(), &key);
    first.initialize(json!({})).await;
    let mut second = McpClient::with_token(&server.url(), &key);
    second.initialize(json!({})).await;
    let third = McpClient::with_token(&server.url(), &key);
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let resp = third.post().body(body.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["data"]["quota"], "max_sessions");
    // One stream for the whole tenant: the second session's GET is refused
    // while the first one's is open.
    let open = first.get().send().await.unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    let refused = second.get().send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    drop(open);
    // Ending a session frees its place.
    assert_eq!(first.delete().await, StatusCode::OK);
    let resp = third.post().body(body.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    server.stop().await;
}

/// Two tenants with weights 3:1 keep the in-flight cap saturated; the
/// admissions while both wait are split 3:1 (±10 %), counted after a
/// warm-up and only while every client still keeps calling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_split_a_saturated_cap() {
    let (mut heavy, heavy_key) = tenant_with_key("heavy", "agent");
    heavy.weight = 3;
    let (light, light_key) = tenant_with_key("light", "agent");
    let mut config = closed_config();
    config.max_in_flight = 2;
    config.queue_deadline_ms = 60_000;
    config.tenants = vec![heavy, light];
    let server = TestServer::with(config, switchboard_everything::everything()).await;

    // The first completions are skipped: until every client has sent its
    // first call, the queue may hold only one tenant's waiters.
    const WARM_UP: usize = 60;
    const TOTAL: usize = 400;
    let done = Arc::new(AtomicUsize::new(0));
    let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let mut tasks = tokio::task::JoinSet::new();
    for (which, key) in [(0usize, &heavy_key), (1, &light_key)] {
        // Many clients per tenant, so each tenant keeps waiters queued even
        // when a loaded machine is slow to send the next call: an empty
        // queue for one tenant would hand its share to the other.
        for _ in 0..20 {
            let c = ModernClient::with_token(&server.url(), key);
            let (done, counts) = (done.clone(), counts.clone());
            tasks.spawn(async move {
                while done.load(Ordering::SeqCst) < WARM_UP + TOTAL {
                    let (r, _) = c
                        .call(
                            "tools/call",
                            json!({"name": "sleep", "arguments": {"ms": 10}}),
                        )
                        .await;
                    assert!(r["result"].is_object(), "{r}");
                    // Count only while both tenants are saturating the cap.
                    let n = done.fetch_add(1, Ordering::SeqCst);
                    if (WARM_UP..WARM_UP + TOTAL).contains(&n) {
                        counts[which].fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("client");
    }
    let (h, l) = (
        counts[0].load(Ordering::SeqCst) as f64,
        counts[1].load(Ordering::SeqCst) as f64,
    );
    let ratio = h / l;
    assert!(
        (2.7..=3.3).contains(&ratio),
        "heavy {h} light {l}: ratio {ratio}"
    );
    server.stop().await;
}

#[tokio::test]
async fn at_the_session_cap_a_tenant_only_evicts_its_own() {
    let (a, a_key) = tenant_with_key("a", "agent");
    let (b, b_key) = tenant_with_key("b", "agent");
    let mut config = closed_config();
    config.max_sessions = 2;
    config.session_cap_policy = switchboard_server::CapPolicy::EvictIdle;
    config.evict_min_idle_secs = 0;
    config.tenants = vec![a, b];
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let mut a1 = McpClient::with_token(&server.url(), &a_key);
    a1.initialize(json!({})).await;
    let mut a2 = McpClient::with_token(&server.url(), &a_key);
    a2.initialize(json!({})).await;
    // b finds the node full of a's idle sessions: refused, a's survive.
    let b1 = McpClient::with_token(&server.url(), &b_key);
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let resp = b1.post().body(body.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let (pong, _) = a1.call("ping", json!({})).await;
    assert!(pong["result"].is_object(), "a's session survived: {pong}");
    // a itself may make room by ending its own longest-idle session.
    let mut a3 = McpClient::with_token(&server.url(), &a_key);
    a3.initialize(json!({})).await;
    assert_eq!(server.app.live_sessions(), 2);
    server.stop().await;
}

#[tokio::test]
async fn listen_streams_are_capped_per_client_and_metrics_can_need_a_token() {
    let (t, key) = tenant_with_key("t", "agent");
    let (token, sha256) = switchboard_auth::new_api_key();
    let mut config = closed_config();
    config.max_sessions_per_identity = 2;
    config.auth.metrics_token_sha256 = Some(sha256.into());
    config.tenants = vec![t];
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let m = ModernClient::with_token(&server.url(), &key);
    let mut open = Vec::new();
    for _ in 0..2 {
        match m
            .request(
                1,
                "subscriptions/listen",
                json!({"filter": {"toolsListChanged": true}}),
            )
            .await
        {
            Reply::Sse(stream) => open.push(stream),
            other => panic!("listen refused: {other:?}"),
        }
    }
    match m
        .request(
            1,
            "subscriptions/listen",
            json!({"filter": {"toolsListChanged": true}}),
        )
        .await
    {
        Reply::Other(status, _) => assert_eq!(status, StatusCode::TOO_MANY_REQUESTS),
        other => panic!("a third listen stream: {other:?}"),
    }
    // Closing one makes room again.
    drop(open.pop());
    let mut reopened = false;
    // (bounded: the server notices the closed connection when it next
    // reads or writes on it)
    for _ in 0..300 {
        if let Reply::Sse(s) = m.request(1, "subscriptions/listen", json!({})).await {
            open.push(s);
            reopened = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(reopened, "a closed listen stream gives its place back");

    let metrics = format!("http://{}/metrics", server.addr);
    let plain = reqwest::get(&metrics).await.unwrap();
    assert_eq!(plain.status(), StatusCode::UNAUTHORIZED);
    let tenant_key = switchboard_testkit::bearer_client(&key)
        .get(&metrics)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tenant_key.status(),
        StatusCode::UNAUTHORIZED,
        "a tenant's key is not the metrics token"
    );
    let scraped = switchboard_testkit::bearer_client(&token)
        .get(&metrics)
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(
        scraped
            .text()
            .await
            .unwrap()
            .contains("switchboard_tenant_streams")
    );
    server.stop().await;
}
