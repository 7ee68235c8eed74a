//! `[redact]`: secrets seeded in a tool's result (and a resource's and a
//! prompt's) are masked before they reach the client, in every era: the
//! 2025-11-25 session (the result streamed over SSE after progress), the
//! 2026-07-28 stateless exchange, the 2024-11-05 HTTP+SSE transport, and a
//! task's stored result. Counted and audited; clean results untouched.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_runtime::{
    CatalogBuilder, Prompt, PromptResult, RequestContext, Resource, ResourceContents, TaskSupport,
    Tool, ToolResult, content,
};
use switchboard_server::Config;
use switchboard_testkit::{LegacyClient, McpClient, ModernClient, TestServer};

const AWS: &str = "AKIAIOSFODNN7EXAMPLE";
const GITHUB: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
const PEM: &str =
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
const TICKET: &str = "TKT-424242";

fn leaky() -> String {
    format!("aws {AWS}, github {GITHUB}, ticket {TICKET}, key:\n{PEM}")
}

/// A tool that reports progress, then leaks; a resource and a prompt that
/// leak; a tool that does not.
fn catalog() -> CatalogBuilder {
    CatalogBuilder::new()
        .tool(
            Tool::new(
                "leak",
                "Returns text with secrets in it",
                json!({"type": "object"}),
                |ctx: RequestContext, _| async move {
                    ctx.progress(1.0, Some(2.0), None).await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    ctx.progress(2.0, Some(2.0), None).await;
                    Ok(ToolResult::text(leaky()).with_structured(json!({"token": GITHUB})))
                },
            )
            .task_support(TaskSupport::Optional),
        )
        .tool(Tool::new(
            "clean",
            "Returns nothing secret",
            json!({"type": "object"}),
            |_, _| async move { Ok(ToolResult::text("nothing to hide")) },
        ))
        .resource(Resource::new(
            "test://leaky",
            "Leaky",
            "text/plain",
            |_, uri| async move {
                Ok(vec![ResourceContents::Text {
                    uri,
                    mime_type: "text/plain".into(),
                    text: leaky(),
                }])
            },
        ))
        .prompt(Prompt::new(
            "leaky",
            "A prompt with a key in it",
            |_, _| async {
                Ok(PromptResult::new(vec![PromptResult::message(
                    "user",
                    content::text(leaky()),
                )]))
            },
        ))
}

fn config(audit: &std::path::Path) -> Config {
    let mut config = Config::from_toml(
        r#"
[redact]
enabled = true
patterns = [{ name = "ticket", regex = 'TKT-\d{6}' }]
"#,
    )
    .unwrap();
    config.auth.audit = audit.to_string_lossy().into_owned();
    config
}

/// Nothing secret left anywhere in `v`, and the masks there.
fn assert_masked(what: &str, v: &Value) {
    let text = v.to_string();
    for secret in [AWS, GITHUB, TICKET, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"] {
        assert!(
            !text.contains(secret),
            "{what}: {secret} reached the client: {text}"
        );
    }
    for mask in [
        "[redacted:aws_access_key_id]",
        "[redacted:github_token]",
        "[redacted:ticket]",
        "[redacted:private_key]",
    ] {
        assert!(text.contains(mask), "{what}: no {mask}: {text}");
    }
}

#[tokio::test]
async fn secrets_are_masked_in_results_of_every_era_and_of_tasks() {
    let audit = std::env::temp_dir().join(format!("sb-redaction-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&audit);
    let server = TestServer::with(config(&audit), catalog()).await;

    // 2025-11-25: the result comes on the request's SSE stream after the
    // progress notifications.
    let mut session = McpClient::new(&server.url());
    session.initialize(json!({})).await;
    let (resp, before) = session
        .call(
            "tools/call",
            json!({"name": "leak", "arguments": {}, "_meta": {"progressToken": 1}}),
        )
        .await;
    assert!(
        before
            .iter()
            .any(|m| m["method"] == "notifications/progress"),
        "not streamed: {before:?}"
    );
    assert_masked("2025-11-25 tools/call", &resp["result"]);
    assert_eq!(
        resp["result"]["structuredContent"]["token"],
        "[redacted:github_token]"
    );
    let (resp, _) = session
        .call("resources/read", json!({"uri": "test://leaky"}))
        .await;
    assert_masked("2025-11-25 resources/read", &resp["result"]);
    let (resp, _) = session.call("prompts/get", json!({"name": "leaky"})).await;
    assert_masked("2025-11-25 prompts/get", &resp["result"]);
    let clean = session.call_tool("clean", json!({})).await;
    assert_eq!(clean["content"][0]["text"], "nothing to hide");

    // A task's stored result.
    let (created, _) = session
        .call(
            "tools/call",
            json!({"name": "leak", "arguments": {}, "task": {"ttl": 60000}}),
        )
        .await;
    let id = created["result"]["task"]["taskId"]
        .as_str()
        .expect("a task")
        .to_owned();
    let (result, _) = session.call("tasks/result", json!({"taskId": id})).await;
    assert_masked("task result", &result["result"]);

    // 2026-07-28.
    let modern = ModernClient::new(&server.url());
    let (resp, _) = modern
        .call("tools/call", json!({"name": "leak", "arguments": {}}))
        .await;
    assert_masked("2026-07-28 tools/call", &resp["result"]);

    // 2024-11-05 HTTP+SSE.
    let base = format!("http://{}", server.addr);
    let mut legacy = LegacyClient::open(&base, "/sse", None).await;
    legacy.initialize().await;
    let answer = legacy
        .call(2, "tools/call", json!({"name": "leak", "arguments": {}}))
        .await;
    assert_masked("2024-11-05 tools/call", &answer["result"]);

    // Counted per pattern, and audited.
    let metrics = server.metrics().await;
    let line = r#"switchboard_redactions_total{tenant="anonymous",pattern="private_key"} "#;
    let count: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix(line))
        .unwrap_or_else(|| panic!("{line} missing:\n{metrics}"))
        .parse()
        .unwrap();
    assert!(count >= 6.0, "{count}");
    let mut audited = false;
    for _ in 0..500 {
        let text = std::fs::read_to_string(&audit).unwrap_or_default();
        audited = text.lines().any(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["event"] == "redacted"
                && v["tool"] == "test://leaky"
                && v["method"] == "resources/read"
        });
        if audited {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(audited, "no redacted line in {}", audit.display());
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    assert!(
        !audit_text.contains(AWS) && !audit_text.contains(GITHUB),
        "a secret reached the audit trail"
    );
    let _ = std::fs::remove_file(&audit);
}

#[test]
fn a_bad_pattern_stops_the_load() {
    let e =
        Config::from_toml("[redact]\nenabled = true\npatterns = [{ name = \"x\", regex = \"(\" }]")
            .unwrap_err();
    assert!(e.contains("redact.patterns[0].regex"), "{e}");
    let e = Config::from_toml("[redact]\nenabled = true\nbuiltin = false").unwrap_err();
    assert!(e.contains("redact.patterns"), "{e}");
}
