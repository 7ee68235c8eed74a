//! The audit trail: one JSON line per tool call and per security event,
//! with tenant, principal, session, outcome and latency, and no secrets.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_server::{AnonymousMode, Config, RateConfig};
use switchboard_testkit::{McpClient, TestServer, tenant_with_key};

/// The audit file's lines once every event kind in `kinds` is there (the
/// writer is a background thread).
async fn lines(path: &std::path::Path, kinds: &[&str]) -> Vec<Value> {
    for _ in 0..500 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let out: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect();
        if kinds.iter().all(|k| out.iter().any(|l| l["event"] == *k)) {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("audit lines of {kinds:?} missing in {}", path.display());
}

#[tokio::test]
async fn tool_calls_and_security_events_are_audited_without_secrets() {
    let dir = std::env::temp_dir().join(format!("sb-audit-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&path);

    let (mut acme, acme_key) = tenant_with_key("acme", "acme-key");
    acme.tools.deny = vec!["whoami".into()];
    acme.tool_rates.insert(
        "add".into(),
        RateConfig {
            per_second: 0.0001,
            burst: 1,
        },
    );
    let (globex, globex_key) = tenant_with_key("globex", "globex-key");
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    config.auth.audit = path.to_string_lossy().into_owned();
    config.tenants = vec![acme, globex];
    let server = TestServer::with(config, switchboard_everything::everything()).await;

    let mut c = McpClient::with_token(&server.url(), &acme_key);
    c.initialize(json!({})).await;
    let sid = c.session.clone().unwrap();
    c.call_tool("echo", json!({"message": "hi"})).await;
    c.call("tools/call", json!({"name": "whoami", "arguments": {}}))
        .await;
    c.call_tool("add", json!({"a": 1, "b": 2})).await;
    let body = json!({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
                      "params": {"name": "add", "arguments": {"a": 1, "b": 2}}});
    let limited = c.post().body(body.to_string()).send().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let mut thief = McpClient::with_token(&server.url(), &globex_key);
    thief.session = Some(sid.clone());
    assert_eq!(thief.delete().await, StatusCode::NOT_FOUND);
    let bad = McpClient::with_token(&server.url(), "sb_this-is-not-a-key");
    let resp = bad.post().body(body.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let all = lines(
        &path,
        &[
            "tool_call",
            "forbidden_tool",
            "rate_limited",
            "session_binding",
            "auth_failure",
        ],
    )
    .await;
    let of = |event: &str| -> Vec<&Value> { all.iter().filter(|l| l["event"] == event).collect() };
    let calls = of("tool_call");
    let echo = calls
        .iter()
        .find(|l| l["tool"] == "echo")
        .expect("echo audited");
    assert_eq!(echo["tenant"], "acme");
    assert_eq!(echo["principal"], "acme-key");
    assert_eq!(echo["outcome"], "ok");
    assert!(echo["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(echo["time"].as_str().unwrap().ends_with('Z'));
    // Sessions appear shortened, never whole.
    let short = echo["session"].as_str().unwrap();
    assert!(sid.starts_with(short) && short.len() < sid.len(), "{short}");
    assert_eq!(of("forbidden_tool")[0]["tool"], "whoami");
    let limited = of("rate_limited");
    assert_eq!(limited[0]["tool"], "add");
    assert_eq!(limited[0]["outcome"], "tool");
    let binding = of("session_binding");
    assert_eq!(binding[0]["tenant"], "globex");
    assert_eq!(binding[0]["outcome"], "denied");
    assert_eq!(of("auth_failure")[0]["outcome"], "invalid_token");

    let text = std::fs::read_to_string(&path).unwrap();
    for secret in [acme_key.as_str(), &globex_key, "sb_this-is-not-a-key", &sid] {
        assert!(!text.contains(secret), "a secret reached the audit trail");
    }
    server.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_stream_quota_refusal_names_the_session() {
    let dir = std::env::temp_dir().join(format!("sb-audit-streams-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&path);
    let (mut acme, key) = tenant_with_key("acme", "acme-key");
    acme.max_streams = Some(1);
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    config.auth.audit = path.to_string_lossy().into_owned();
    config.tenants = vec![acme];
    let server = TestServer::with(config, switchboard_everything::everything()).await;

    let mut first = McpClient::with_token(&server.url(), &key);
    first.initialize(json!({})).await;
    let open = first.get().send().await.unwrap();
    assert_eq!(open.status(), StatusCode::OK);
    let mut second = McpClient::with_token(&server.url(), &key);
    second.initialize(json!({})).await;
    let refused = second.get().send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);

    let all = lines(&path, &["quota"]).await;
    let quota = all.iter().find(|l| l["event"] == "quota").unwrap();
    assert_eq!(quota["outcome"], "max_streams");
    let short = quota["session"].as_str().expect("the session is named");
    let sid = second.session.clone().unwrap();
    assert!(sid.starts_with(short) && short.len() < sid.len(), "{quota}");
    drop(open);
    server.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}
