//! `[[hooks]]`: a guardrail hook endpoint written with Flask
//! (`tests/interop/python/guardrail_hook.py`) denies one call, rewrites
//! another's arguments and a third's result, in the 2025-11-25 and the
//! 2026-07-28 eras; a hook that does not answer in time refuses the call
//! when it fails closed and lets it through when it fails open; every
//! decision is counted; the hook never sees the caller's credential.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_server::{AnonymousMode, Config, HookConfig, HookFailure};
use switchboard_testkit::{McpClient, ModernClient, Reply, TestServer, tenant_with_key};
use tokio::io::{AsyncBufReadExt, BufReader};

const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/venv/bin/python");
const HOOK: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/interop/python/guardrail_hook.py"
);

/// The Flask hook on a free port: its base URL, and the process.
async fn hook() -> (String, tokio::process::Child) {
    assert!(
        std::path::Path::new(PYTHON).exists(),
        "{PYTHON} is missing: run scripts/tools.sh (it makes the venv with Flask)"
    );
    let mut child = tokio::process::Command::new(PYTHON)
        .arg(HOOK)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the hook");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("port ")
        .expect("its port")
        .to_owned();
    (format!("http://127.0.0.1:{port}"), child)
}

fn hook_config(
    name: &str,
    url: String,
    tools: &[&str],
    timeout_ms: u64,
    failure: HookFailure,
) -> HookConfig {
    HookConfig {
        name: name.into(),
        url,
        tools: tools.iter().map(|t| (*t).to_owned()).collect(),
        timeout_ms,
        failure,
        ..HookConfig::default()
    }
}

/// A tool call's response message in either era, whatever its status.
async fn call(era: &str, url: &str, key: &str, tool: &str, args: Value) -> Value {
    let params = json!({"name": tool, "arguments": args});
    if era == "2025-11-25" {
        let mut c = McpClient::with_token(url, key);
        c.initialize(json!({})).await;
        return c.call("tools/call", params).await.0;
    }
    match ModernClient::with_token(url, key)
        .request(1, "tools/call", params)
        .await
    {
        Reply::Json(v) => v,
        Reply::Sse(mut s) => loop {
            let v = s
                .next()
                .await
                .expect("a response")
                .json()
                .unwrap_or(Value::Null);
            if v.get("id").is_some() {
                break v;
            }
        },
        Reply::Other(_, body) => serde_json::from_str(&body).unwrap(),
    }
}

fn text(resp: &Value) -> &str {
    resp["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("a text result: {resp}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_denies_rewrites_and_fails_open_or_closed() {
    let (base, _child) = hook().await;
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    let (tenant, key) = tenant_with_key("acme", "k");
    config.tenants.push(tenant);
    config.hooks = vec![
        hook_config(
            "dlp",
            format!("{base}/check"),
            &["echo", "add"],
            5000,
            HookFailure::Closed,
        ),
        hook_config(
            "slow-closed",
            format!("{base}/slow"),
            &["now"],
            200,
            HookFailure::Closed,
        ),
        hook_config(
            "slow-open",
            format!("{base}/slow"),
            &["whoami"],
            200,
            HookFailure::Open,
        ),
    ];
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let url = server.url();

    for era in ["2025-11-25", "2026-07-28"] {
        let denied = call(
            era,
            &url,
            &key,
            "echo",
            json!({"message": "please deny this"}),
        )
        .await;
        assert_eq!(denied["error"]["code"], -32006, "{era}: {denied}");
        assert_eq!(
            denied["error"]["data"]["policy"], "hook:dlp",
            "{era}: {denied}"
        );
        assert_eq!(
            denied["error"]["message"],
            "messages with deny words are not sent"
        );

        let rewritten = call(era, &url, &key, "echo", json!({"message": "rewrite me"})).await;
        assert_eq!(text(&rewritten), "rewritten by the hook", "{era}");
        let plain = call(era, &url, &key, "echo", json!({"message": "as it is"})).await;
        assert_eq!(text(&plain), "as it is", "{era}");

        let hooked = call(era, &url, &key, "add", json!({"a": 1, "b": 2})).await;
        assert_eq!(text(&hooked), "hooked", "{era}: the result was replaced");

        let closed = call(era, &url, &key, "now", json!({})).await;
        assert_eq!(
            closed["error"]["data"]["policy"], "hook:slow-closed",
            "{era}: {closed}"
        );
        let why = closed["error"]["message"].as_str().unwrap();
        assert!(why.contains("no answer within 200 ms"), "{era}: {why}");

        let open = call(era, &url, &key, "whoami", json!({})).await;
        assert!(open.get("result").is_some(), "{era}: fails open: {open}");
    }

    let metrics = server.metrics().await;
    for series in [
        r#"switchboard_guardrail_decisions_total{hook="dlp",stage="before",decision="deny"} 2"#,
        r#"switchboard_guardrail_decisions_total{hook="dlp",stage="before",decision="modify"} 2"#,
        r#"switchboard_guardrail_decisions_total{hook="dlp",stage="after",decision="modify"} 2"#,
        r#"switchboard_guardrail_decisions_total{hook="slow-closed",stage="before",decision="failed_closed"} 2"#,
        r#"switchboard_guardrail_decisions_total{hook="slow-open",stage="before",decision="failed_open"} 2"#,
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }

    // The hook saw the calls, and never the caller's key.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen: Vec<Value> = reqwest::get(format!("{base}/seen"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bodies: Vec<Value> = seen
        .iter()
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b["arguments"]["message"] == "rewrite me" && b["tenant"] == "acme"),
        "{bodies:?}"
    );
    let everything = serde_json::to_string(&seen).unwrap();
    assert!(
        !everything.contains(&key),
        "the caller's key reached the hook"
    );
    for r in &seen {
        let headers = r["headers"].as_object().unwrap();
        assert!(
            headers
                .keys()
                .all(|h| !h.eq_ignore_ascii_case("authorization")),
            "{headers:?}"
        );
    }
}

#[test]
fn a_bad_hook_stops_the_load() {
    for (text, key) in [
        ("[[hooks]]\nname = \"h\"\nurl = \"ftp://x\"", "hooks[0].url"),
        (
            "[[hooks]]\nname = \"h\"\nurl = \"http://127.0.0.1:1/\"\nstages = [\"during\"]",
            "hooks[0].stages",
        ),
        (
            "[[hooks]]\nname = \"h\"\nurl = \"http://127.0.0.1:1/\"\ntimeout_ms = 0",
            "hooks[0].timeout_ms",
        ),
        (
            "[[hooks]]\nname = \"h\"\nurl = \"http://127.0.0.1:1/\"\ntenants = [\"nobody\"]",
            "hooks[0].tenants",
        ),
    ] {
        let e = Config::from_toml(text).unwrap_err();
        assert!(e.contains(key), "{text}: {e}");
    }
}
