//! A stdio MCP server behind Switchboard: real child processes (the
//! upstream crate's Python fixture), one per session, their tools under a
//! prefix, calls, progress and elicitation passed through, state kept apart,
//! and failures contained.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_runtime::CatalogBuilder;
use switchboard_testkit::{McpClient, ModernClient, Reply, TestServer};
use switchboard_upstream::gateway::{PoolMode, StdioProvider, UpstreamConfig};

use crate::fixture_upstream;
use fixture_upstream::{call, fixture, value};

async fn gateway(upstreams: Vec<UpstreamConfig>) -> (TestServer, Vec<Arc<StdioProvider>>) {
    gateway_with(upstreams, switchboard_server::Config::default()).await
}

async fn gateway_with(
    upstreams: Vec<UpstreamConfig>,
    config: switchboard_server::Config,
) -> (TestServer, Vec<Arc<StdioProvider>>) {
    let mut builder = CatalogBuilder::new();
    let mut providers = Vec::new();
    for u in upstreams {
        let p = Arc::new(StdioProvider::new(u));
        p.probe().await.expect("upstream starts");
        builder = builder.provider(p.clone());
        providers.push(p);
    }
    let server = TestServer::with(config, builder).await;
    (server, providers)
}

fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_session_has_its_own_process_and_state() {
    let (server, providers) = gateway(vec![fixture("up")]).await;
    let mut a = server.client();
    a.initialize(json!({})).await;
    let mut b = server.client();
    b.initialize(json!({})).await;
    let (list, _) = a.call("tools/list", json!({})).await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"up__count") && names.contains(&"up__ask"),
        "{names:?}"
    );
    for expected in 1..=3 {
        assert_eq!(value(&call(&a, "up__count", json!({})).await), expected);
    }
    assert_eq!(
        value(&call(&b, "up__count", json!({})).await),
        1,
        "b never sees a's counter"
    );
    let pid_a = value(&call(&a, "up__pid", json!({})).await)
        .as_u64()
        .unwrap();
    let pid_b = value(&call(&b, "up__pid", json!({})).await)
        .as_u64()
        .unwrap();
    assert_ne!(pid_a, pid_b);
    // A stateless client gets a process of its own principal.
    let m = ModernClient::new(&server.url());
    let (r, _) = m
        .call("tools/call", json!({"name": "up__count", "arguments": {}}))
        .await;
    assert_eq!(value(&r), 1, "{r}");

    // Ending a session ends its process.
    assert_eq!(a.delete().await, StatusCode::OK);
    for _ in 0..100 {
        if !alive(pid_a) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!alive(pid_a), "the session's process ended with it");
    assert!(alive(pid_b));
    assert!(providers[0].processes() >= 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_elicitation_pass_through() {
    let (server, _p) = gateway(vec![fixture("up")]).await;
    let mut c = server.client();
    c.initialize(json!({"elicitation": {}})).await;
    let (resp, before) = c
        .call(
            "tools/call",
            json!({"name": "up__slow", "arguments": {"ms": 30, "steps": 3},
                                   "_meta": {"progressToken": "mine"}}),
        )
        .await;
    let progress: Vec<&Value> = before
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3, "{before:?}");
    assert!(
        progress
            .iter()
            .all(|p| p["params"]["progressToken"] == "mine")
    );
    let seen = value(&resp)["token"].clone();
    assert!(
        seen.is_string() && seen != "mine",
        "the upstream saw a token of the gateway's: {seen}"
    );

    let Reply::Sse(mut s) = c
        .request(
            42,
            "tools/call",
            json!({"name": "up__ask", "arguments": {"question": "name?"}}),
        )
        .await
    else {
        panic!("SSE expected")
    };
    let req = loop {
        let ev = s.next().await.unwrap();
        if let Some(v) = ev.json() {
            break v;
        }
    };
    assert_eq!(req["method"], "elicitation/create");
    assert_eq!(req["params"]["message"], "name?");
    let answer = json!({"jsonrpc": "2.0", "id": req["id"], "result": {"action": "accept", "content": {"name": "Ada"}}});
    assert_eq!(c.respond(&answer).await, 202);
    let resp = s.next().await.unwrap().json().unwrap();
    assert_eq!(resp["id"], 42);
    assert_eq!(value(&resp)["content"]["name"], "Ada");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_or_misbehaving_upstream_is_contained() {
    let mut garbage = fixture("bad");
    garbage.mode = PoolMode::Shared;
    let (server, _p) = gateway(vec![fixture("up"), garbage]).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let pid = value(&call(&c, "up__pid", json!({})).await)
        .as_u64()
        .unwrap();
    // kill -9 mid-call: a clear error, and the next call gets a new process.
    let slow = c.call(
        "tools/call",
        json!({"name": "up__slow", "arguments": {"ms": 5000, "steps": 5}}),
    );
    let killer = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
    };
    let ((resp, _), ()) = tokio::join!(slow, killer);
    let message = resp["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("exited") && message.contains("fresh process"),
        "{resp}"
    );
    for _ in 0..100 {
        if !alive(pid) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!alive(pid), "no zombie left of the killed process");
    let new_pid = value(&call(&c, "up__pid", json!({})).await)
        .as_u64()
        .unwrap();
    assert_ne!(new_pid, pid);
    assert_eq!(
        value(&call(&c, "up__count", json!({})).await),
        1,
        "a fresh process, fresh state"
    );

    // An upstream writing garbage is cut off; the other one is untouched.
    let resp = call(&c, "bad__garbage", json!({"lines": 100})).await;
    assert!(resp["error"].is_object(), "{resp}");
    assert_eq!(value(&call(&c, "up__count", json!({})).await), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_makes_new_sessions_wait_then_refuses() {
    let mut small = fixture("up");
    small.max_processes = 2; // the warm process and one session
    small.pool_wait_ms = 300;
    let (server, _p) = gateway(vec![small]).await;
    let mut a = server.client();
    a.initialize(json!({})).await;
    assert_eq!(value(&call(&a, "up__count", json!({})).await), 1);
    let mut b = server.client();
    b.initialize(json!({})).await;
    // b takes the warm process...
    assert_eq!(value(&call(&b, "up__count", json!({})).await), 1);
    let mut c = server.client();
    c.initialize(json!({})).await;
    // ...and c finds no room within its wait.
    let resp = call(&c, "up__count", json!({})).await;
    let message = resp["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("in use"), "{resp}");
    // When a session ends, its slot serves the waiting kind.
    assert_eq!(a.delete().await, StatusCode::OK);
    let mut served = false;
    for _ in 0..50 {
        let resp = call(&c, "up__count", json!({})).await;
        if resp["result"].is_object() {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(served, "a freed slot is used");
    server.stop().await;
}

/// A stateless (2026-07-28) client and a session-era stdio upstream: the
/// upstream's elicitation becomes an `input_required` result, and the retry
/// carries the answer back to the upstream (bridged eras).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modern_client_answers_a_legacy_upstreams_elicitation_by_retrying() {
    let (server, _p) = gateway(vec![fixture("up")]).await;
    let mut m = ModernClient::new(&server.url());
    m.capabilities = json!({"elicitation": {}});
    let params = json!({"name": "up__ask", "arguments": {"question": "name?"}});
    let (first, _) = m.call("tools/call", params.clone()).await;
    let r = &first["result"];
    assert_eq!(r["resultType"], "input_required", "{first}");
    let (key, request) = r["inputRequests"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(request["params"]["message"], "name?");
    let mut retry = params;
    retry["inputResponses"] = json!({key: {"action": "accept", "content": {"name": "Ada"}}});
    retry["requestState"] = r["requestState"].clone();
    let (second, _) = m.call("tools/call", retry).await;
    assert_eq!(second["result"]["resultType"], "complete", "{second}");
    assert_eq!(value(&second)["content"]["name"], "Ada");
    server.stop().await;
}

/// An upstream that never answers: each call times out, the breaker opens
/// after two, later calls are refused at once, its tools leave the merged
/// list, and the other upstream is untouched; metrics and /readyz say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_upstream_trips_its_breaker_alone() {
    let mut stuck = fixture("stuck");
    stuck.call_timeout_secs = 1;
    stuck.breaker_failures = 2;
    stuck.breaker_cool_down_secs = 600;
    let (server, _p) = gateway(vec![fixture("up"), stuck]).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    for _ in 0..2 {
        let r = call(&c, "stuck__hang", json!({})).await;
        assert_eq!(r["error"]["code"], -32003, "a timeout: {r}");
    }
    let r = call(&c, "stuck__hang", json!({})).await;
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("circuit open"), "refused at once: {r}");
    assert_eq!(value(&call(&c, "up__count", json!({})).await), 1);
    let (list, _) = c.call("tools/list", json!({})).await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"up__count"));
    assert!(!names.iter().any(|n| n.starts_with("stuck__")), "{names:?}");

    let ready: Value = reqwest::get(format!("http://{}/readyz", server.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stuck_health = ready["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "stuck")
        .unwrap()
        .clone();
    assert_eq!(stuck_health["breaker"], "open");
    let metrics = reqwest::get(format!("http://{}/metrics", server.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"switchboard_upstream_breaker_state{upstream="stuck",state="open"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"switchboard_upstream_failures_total{upstream="stuck"} 3"#));
    server.stop().await;
}

/// A tenant's `max_upstream_processes` caps its processes; another tenant
/// is not held back by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_holds_at_most_its_upstream_processes() {
    let mut config = switchboard_server::Config::default();
    config.auth.anonymous = switchboard_server::AnonymousMode::Off;
    let mut keys = Vec::new();
    for (id, cap) in [("small", Some(1)), ("big", None)] {
        let (key, sha256) = switchboard_auth::new_api_key();
        config.tenants.push(switchboard_server::TenantConfig {
            id: id.into(),
            api_keys: vec![switchboard_server::ApiKeyConfig {
                id: "k".into(),
                sha256,
            }],
            max_upstream_processes: cap,
            ..Default::default()
        });
        keys.push(key);
    }
    let (server, _p) = gateway_with(vec![fixture("up")], config).await;
    let mut s1 = McpClient::with_token(&server.url(), &keys[0]);
    s1.initialize(json!({})).await;
    assert_eq!(value(&call(&s1, "up__count", json!({})).await), 1);
    let mut s2 = McpClient::with_token(&server.url(), &keys[0]);
    s2.initialize(json!({})).await;
    let refused = call(&s2, "up__count", json!({})).await;
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("at most 1 upstream processes"),
        "{refused}"
    );
    let mut other = McpClient::with_token(&server.url(), &keys[1]);
    other.initialize(json!({})).await;
    assert_eq!(value(&call(&other, "up__count", json!({})).await), 1);
    // The first session ends: its place is free again.
    assert_eq!(s1.delete().await, StatusCode::OK);
    assert_eq!(value(&call(&s2, "up__count", json!({})).await), 1);
    server.stop().await;
}

/// An HTTP upstream (another Switchboard, built-in toolset): an upstream
/// session per client session, tools prefixed, progress relayed, and the
/// upstream sees the gateway's own sessions (not the client's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_upstream_gets_a_session_per_client_session() {
    let upstream = TestServer::start().await;
    let http = UpstreamConfig {
        name: "web".into(),
        kind: switchboard_upstream::gateway::UpstreamKind::Http,
        url: upstream.url(),
        call_timeout_secs: 10,
        ..UpstreamConfig::default()
    };
    let (server, _p) = gateway(vec![http]).await;
    let mut a = server.client();
    a.initialize(json!({})).await;
    let mut b = server.client();
    b.initialize(json!({})).await;
    let r = call(&a, "web__echo", json!({"message": "over http"})).await;
    assert_eq!(r["result"]["content"][0]["text"], "over http", "{r}");
    let who = |r: Value| {
        r["result"]["structuredContent"]["session"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let a1 = who(call(&a, "web__whoami", json!({})).await);
    let a2 = who(call(&a, "web__whoami", json!({})).await);
    let b1 = who(call(&b, "web__whoami", json!({})).await);
    assert_eq!(a1, a2, "one upstream session per client session");
    assert_ne!(a1, b1);
    assert_ne!(
        Some(a1.as_str()),
        a.session.as_deref(),
        "the client's id stays with the gateway"
    );
    let (resp, before) = a
        .call(
            "tools/call",
            json!({"name": "web__sleep", "arguments": {"ms": 100},
                                   "_meta": {"progressToken": 5}}),
        )
        .await;
    assert!(resp["result"].is_object(), "{resp}");
    assert!(
        before
            .iter()
            .any(|m| m["method"] == "notifications/progress" && m["params"]["progressToken"] == 5)
    );
    // The client's session ends: so does its upstream session.
    assert_eq!(a.delete().await, StatusCode::OK);
    for _ in 0..100 {
        if upstream.app.live_sessions() <= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        upstream.app.live_sessions() <= 2,
        "b's session and the warm one remain"
    );
    server.stop().await;
    upstream.stop().await;
}

/// Tenants' tool scopes and tool rates hold for upstream tools as for
/// built-in ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_rates_hold_for_upstream_tools() {
    let mut config = switchboard_server::Config::default();
    config.auth.anonymous = switchboard_server::AnonymousMode::Off;
    let (key, sha256) = switchboard_auth::new_api_key();
    let mut t = switchboard_server::TenantConfig {
        id: "t".into(),
        api_keys: vec![switchboard_server::ApiKeyConfig {
            id: "k".into(),
            sha256,
        }],
        ..Default::default()
    };
    t.tool_rates.insert(
        "up__count".into(),
        switchboard_server::RateConfig {
            per_second: 0.0001,
            burst: 2,
        },
    );
    config.tenants.push(t);
    let (server, _p) = gateway_with(vec![fixture("up")], config).await;
    let mut c = McpClient::with_token(&server.url(), &key);
    c.initialize(json!({})).await;
    assert_eq!(value(&call(&c, "up__count", json!({})).await), 1);
    assert_eq!(value(&call(&c, "up__count", json!({})).await), 2);
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                      "params": {"name": "up__count", "arguments": {}}});
    let limited = c.post().body(body.to_string()).send().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another upstream tool is not held back.
    assert!(value(&call(&c, "up__pid", json!({})).await).is_u64());
    server.stop().await;
}
