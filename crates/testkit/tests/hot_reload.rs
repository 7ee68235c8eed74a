//! Hot reload in process (`App::reload`): tenants added, API keys rotated,
//! rate limits tightened and upstreams added and removed while sessions
//! go on; an invalid configuration changes nothing. Real HTTP and real
//! upstream processes; outcomes are counted, never timed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_runtime::CatalogBuilder;
use switchboard_server::{AnonymousMode, ApiKeyConfig, Config, RateConfig, TenantConfig};
use switchboard_testkit::{McpClient, SseReader, TestServer, tenant_with_key};
use switchboard_upstream::gateway::{StdioProvider, UpstreamConfig};

use crate::fixture_upstream;
use fixture_upstream::{call, fixture, value};

fn closed(tenants: Vec<TenantConfig>) -> Config {
    let mut c = Config::default();
    c.auth.anonymous = AnonymousMode::Off;
    c.tenants = tenants;
    c
}

/// The status of a fresh `initialize` with `token`.
async fn init_status(server: &TestServer, token: &str) -> StatusCode {
    let c = McpClient::with_token(&server.url(), token);
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    c.post()
        .body(body.to_string())
        .send()
        .await
        .expect("post")
        .status()
}

/// `echo` in the session of `c`: the HTTP status.
async fn echo(c: &McpClient) -> StatusCode {
    let body = json!({"jsonrpc": "2.0", "id": c.id(), "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"message": "hi"}}});
    c.post()
        .body(body.to_string())
        .send()
        .await
        .expect("post")
        .status()
}

/// `c`'s session, used with another credential.
fn same_session(server: &TestServer, c: &McpClient, token: &str) -> McpClient {
    let mut other = McpClient::with_token(&server.url(), token);
    other.session = c.session.clone();
    other.version = c.version.clone();
    other
}

#[tokio::test]
async fn an_added_tenant_gets_in_and_the_others_sessions_go_on() {
    let (a, a_key) = tenant_with_key("a", "agent");
    let (b, b_key) = tenant_with_key("b", "agent");
    let config = closed(vec![a.clone()]);
    let server = TestServer::with(config.clone(), switchboard_everything::everything()).await;
    let mut s = McpClient::with_token(&server.url(), &a_key);
    s.initialize(json!({})).await;
    assert_eq!(init_status(&server, &b_key).await, StatusCode::UNAUTHORIZED);

    let report = server
        .app
        .reload(closed(vec![a, b]))
        .await
        .expect("reloads");
    assert_eq!(report.tenants_added, ["b"]);
    assert!(report.applied.contains(&"tenants".to_owned()), "{report}");
    assert!(report.needs_restart.is_empty(), "{report}");

    assert_eq!(init_status(&server, &b_key).await, StatusCode::OK);
    assert_eq!(echo(&s).await, StatusCode::OK, "a's session goes on");
}

#[tokio::test]
async fn a_rotated_key_keeps_its_principals_sessions_and_refuses_the_old_key() {
    let (acme, old_key) = tenant_with_key("acme", "agent");
    let server = TestServer::with(
        closed(vec![acme.clone()]),
        switchboard_everything::everything(),
    )
    .await;
    let mut s = McpClient::with_token(&server.url(), &old_key);
    s.initialize(json!({})).await;
    assert_eq!(echo(&s).await, StatusCode::OK);

    // The same key id with a new secret, and a second key of another id.
    let (new_key, new_sha) = switchboard_auth::new_api_key();
    let (ci_key, ci_sha) = switchboard_auth::new_api_key();
    let mut rotated = acme.clone();
    rotated.api_keys = vec![
        ApiKeyConfig {
            id: "agent".into(),
            sha256: new_sha,
        },
        ApiKeyConfig {
            id: "ci".into(),
            sha256: ci_sha,
        },
    ];
    let report = server
        .app
        .reload(closed(vec![rotated]))
        .await
        .expect("reloads");
    assert_eq!(report.tenants_changed, ["acme"]);

    assert_eq!(
        init_status(&server, &old_key).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        echo(&s).await,
        StatusCode::UNAUTHORIZED,
        "the old key is refused"
    );
    let continued = same_session(&server, &s, &new_key);
    assert_eq!(
        echo(&continued).await,
        StatusCode::OK,
        "the session goes on with the new key of the same principal"
    );
    let other = same_session(&server, &s, &ci_key);
    assert_eq!(
        echo(&other).await,
        StatusCode::NOT_FOUND,
        "another key id is another principal"
    );
    assert_eq!(init_status(&server, &new_key).await, StatusCode::OK);
}

#[tokio::test]
async fn a_removed_tenants_sessions_end_and_its_key_is_refused() {
    let (a, a_key) = tenant_with_key("a", "agent");
    let (b, b_key) = tenant_with_key("b", "agent");
    let server = TestServer::with(
        closed(vec![a.clone(), b]),
        switchboard_everything::everything(),
    )
    .await;
    let mut sa = McpClient::with_token(&server.url(), &a_key);
    sa.initialize(json!({})).await;
    let mut sb = McpClient::with_token(&server.url(), &b_key);
    sb.initialize(json!({})).await;
    assert_eq!(server.app.live_sessions(), 2);

    let report = server.app.reload(closed(vec![a])).await.expect("reloads");
    assert_eq!(report.tenants_removed, ["b"]);
    assert_eq!(report.sessions_ended, 1);
    assert_eq!(server.app.live_sessions(), 1);
    assert_eq!(echo(&sb).await, StatusCode::UNAUTHORIZED);
    assert_eq!(echo(&sa).await, StatusCode::OK);
}

#[tokio::test]
async fn a_tightened_rate_limit_applies_to_the_next_calls() {
    let (mut acme, key) = tenant_with_key("acme", "agent");
    acme.rate = Some(RateConfig {
        per_second: 1000.0,
        burst: 1000,
    });
    let server = TestServer::with(
        closed(vec![acme.clone()]),
        switchboard_everything::everything(),
    )
    .await;
    let mut s = McpClient::with_token(&server.url(), &key);
    s.initialize(json!({})).await;
    for _ in 0..10 {
        assert_eq!(echo(&s).await, StatusCode::OK);
    }

    // Nothing refills during the test: only the burst of 3.
    acme.rate = Some(RateConfig {
        per_second: 0.0001,
        burst: 3,
    });
    server
        .app
        .reload(closed(vec![acme]))
        .await
        .expect("reloads");
    let (mut ok, mut limited) = (0, 0);
    for _ in 0..10 {
        match echo(&s).await {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!((1..=3).contains(&ok), "at most the new burst passes: {ok}");
    assert_eq!(ok + limited, 10);
}

/// Whether the process `pid` runs (a zombie does not).
fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

/// Live processes whose command line contains `tag`.
fn running_with(tag: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(tag))
                && alive(pid)
        })
        .count()
}

fn upstreams(list: Vec<UpstreamConfig>) -> Config {
    Config {
        upstreams: list,
        ..Config::default()
    }
}

async fn tool_names(c: &McpClient) -> Vec<String> {
    let (list, _) = c.call("tools/list", json!({})).await;
    list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn pid(c: &McpClient, tool: &str) -> u64 {
    let resp = call(c, tool, json!({})).await;
    value(&resp)
        .as_u64()
        .unwrap_or_else(|| panic!("{tool} gives a pid: {resp}"))
}

/// Read `stream` until a message with `method` (bounded).
async fn wait_for(stream: &mut SseReader, method: &str) -> bool {
    for _ in 0..50 {
        match stream.next_within(Duration::from_secs(30)).await {
            Ok(Some(ev)) => {
                if ev.json().is_some_and(|v| v["method"] == method) {
                    return true;
                }
            }
            _ => return false,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstreams_are_added_and_removed_while_sessions_go_on() {
    let a = fixture("a");
    let provider = std::sync::Arc::new(StdioProvider::new(a.clone()));
    provider.probe().await.expect("upstream a starts");
    let server = TestServer::with(
        upstreams(vec![a.clone()]),
        CatalogBuilder::new().provider(provider),
    )
    .await;
    let mut s = McpClient::new(&server.url());
    s.initialize(json!({})).await;
    let get = s.get().send().await.expect("GET stream");
    assert_eq!(get.status(), StatusCode::OK);
    let mut events = SseReader::new(get);
    let pid_a = pid(&s, "a__pid").await;
    assert!(!tool_names(&s).await.iter().any(|n| n.starts_with("b__")));

    let report = server
        .app
        .reload(upstreams(vec![a.clone(), fixture("b")]))
        .await
        .expect("adds b");
    assert_eq!(report.upstreams_added, ["b"]);
    assert!(
        wait_for(&mut events, "notifications/tools/list_changed").await,
        "the session hears the tools changed"
    );
    let names = tool_names(&s).await;
    assert!(names.contains(&"b__pid".to_owned()) && names.contains(&"a__pid".to_owned()));
    let pid_b = pid(&s, "b__pid").await;
    assert_eq!(pid(&s, "a__pid").await, pid_a, "a's process is untouched");

    let report = server
        .app
        .reload(upstreams(vec![fixture("b")]))
        .await
        .expect("removes a");
    assert_eq!(report.upstreams_removed, ["a"]);
    assert!(wait_for(&mut events, "notifications/tools/list_changed").await);
    let names = tool_names(&s).await;
    assert!(!names.iter().any(|n| n.starts_with("a__")), "{names:?}");
    let gone = call(&s, "a__pid", json!({})).await;
    assert!(
        gone["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown tool")),
        "{gone}"
    );
    for _ in 0..100 {
        if !alive(pid_a) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!alive(pid_a), "the removed upstream's process ended");
    assert_eq!(pid(&s, "b__pid").await, pid_b, "the session goes on with b");
    assert!(alive(pid_b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_configuration_changes_nothing() {
    let (a, a_key) = tenant_with_key("a", "agent");
    let server = TestServer::with(
        closed(vec![a.clone()]),
        switchboard_everything::everything(),
    )
    .await;
    let mut s = McpClient::with_token(&server.url(), &a_key);
    s.initialize(json!({})).await;
    let before = server.app.config().redacted_toml();

    // A new tenant whose key is no digest: refused, and b is not added.
    let (b, b_key) = tenant_with_key("b", "agent");
    let mut bad_b = b.clone();
    bad_b.api_keys[0].sha256 = "not-a-digest".into();
    let e = server
        .app
        .reload(closed(vec![a.clone(), bad_b]))
        .await
        .expect_err("refused");
    assert!(
        e.to_string().contains("tenants[1].api_keys[0].sha256"),
        "{e}"
    );

    // A zero where a positive number is needed, with a valid new tenant.
    let mut zero = closed(vec![a.clone(), b.clone()]);
    zero.max_sessions = 0;
    let e = server.app.reload(zero).await.expect_err("refused");
    assert!(e.to_string().contains("max_sessions"), "{e}");

    // An upstream whose tools collide with the built-in ones.
    let mut clash = closed(vec![a.clone(), b]);
    let mut up = fixture("clash");
    up.prefix = Some(String::new());
    let tag = format!("clash-{}", std::process::id());
    up.args.extend(["--tag".to_owned(), tag.clone()]);
    clash.upstreams = vec![up];
    let e = server.app.reload(clash).await.expect_err("refused");
    assert!(e.to_string().contains("collision"), "{e}");
    for _ in 0..100 {
        if running_with(&tag) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        running_with(&tag),
        0,
        "the refused upstream's processes ended"
    );

    assert_eq!(server.app.config().redacted_toml(), before);
    assert_eq!(init_status(&server, &b_key).await, StatusCode::UNAUTHORIZED);
    assert_eq!(echo(&s).await, StatusCode::OK);
    assert_eq!(init_status(&server, &a_key).await, StatusCode::OK);
    let names: Vec<Value> = {
        let (list, _) = s.call("tools/list", json!({})).await;
        list["result"]["tools"].as_array().expect("tools").clone()
    };
    assert!(
        names
            .iter()
            .all(|t| t["description"] != "fixture tool echo")
    );
}

#[tokio::test]
async fn start_up_fields_keep_their_running_value_and_are_reported() {
    let server = TestServer::start().await;
    let next = Config {
        listen: "127.0.0.1:1".parse().expect("addr"),
        max_body_bytes: 1234,
        ..Config::default()
    };
    let report = server.app.reload(next).await.expect("reloads");
    assert_eq!(report.needs_restart, ["listen"]);
    assert_eq!(report.applied, ["max_body_bytes"]);
    assert_eq!(server.app.config().listen, Config::default().listen);
    assert_eq!(server.app.config().max_body_bytes, 1234);
}
