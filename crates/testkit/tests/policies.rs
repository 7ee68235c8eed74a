//! `[[policies]]`: CEL rules over a request's arguments and its caller,
//! judged in both eras for calls, reads and prompts, with real JWTs (signed
//! by the fixture keys, verified against a JWKS the test serves) carrying
//! groups, an email, a level and scopes. Each rule is shown allowing and
//! refusing; a refusal names its rule, is counted and audited.

use serde_json::{Value, json};
use switchboard_auth::JwtConfig;
use switchboard_auth::testing::{JwksServer, TestKeys, claims};
use switchboard_server::{AnonymousMode, Config, PolicyConfig, TenantConfig};
use switchboard_testkit::{McpClient, ModernClient, TestServer};

const ISSUER: &str = "https://login.test";
const AUDIENCE: &str = "https://mcp.test/mcp";

fn rule(name: &str, tools: &[&str], allow_if: Option<&str>, deny_if: Option<&str>) -> PolicyConfig {
    PolicyConfig {
        name: name.into(),
        tools: tools.iter().map(|t| (*t).to_owned()).collect(),
        allow_if: allow_if.map(str::to_owned),
        deny_if: deny_if.map(str::to_owned),
        ..PolicyConfig::default()
    }
}

/// Twelve rules over arguments, claims, scopes, subject, tenant and
/// annotations.
fn policies() -> Vec<PolicyConfig> {
    vec![
        PolicyConfig {
            message: Some("echo must not carry passwords".into()),
            ..rule(
                "echo-no-passwords",
                &["echo"],
                None,
                Some("args.message.contains('password')"),
            )
        },
        rule("add-small", &["add"], Some("args.a + args.b <= 100"), None),
        rule(
            "sleep-admins",
            &["sleep"],
            Some("has(claims.groups) && 'admins' in claims.groups"),
            None,
        ),
        rule(
            "whoami-own-domain",
            &["whoami"],
            Some("has(claims.email) && claims.email.endsWith('@acme.example')"),
            None,
        ),
        rule(
            "whoami-nonce",
            &["whoami"],
            Some("!has(args.nonce) || args.nonce.matches('^[a-z0-9]{1,16}$')"),
            None,
        ),
        rule(
            "now-needs-scope",
            &["now"],
            Some("'time:read' in scopes"),
            None,
        ),
        rule(
            "guests-read-only",
            &["*"],
            None,
            Some(
                "has(claims.groups) && 'guests' in claims.groups && !(has(annotations.readOnlyHint) && annotations.readOnlyHint)",
            ),
        ),
        rule("no-mallory", &["echo"], None, Some("subject == 'mallory'")),
        rule(
            "add-level",
            &["add"],
            None,
            Some("has(claims.level) && claims.level < 2"),
        ),
        PolicyConfig {
            tenants: vec!["globex".into()],
            ..rule("globex-no-echo", &["echo"], None, Some("true"))
        },
        PolicyConfig {
            name: "prompt-no-forbidden".into(),
            prompts: vec!["test_prompt_with_arguments".into()],
            deny_if: Some("args.arg1 == 'forbidden'".into()),
            ..PolicyConfig::default()
        },
        PolicyConfig {
            name: "binary-for-admins".into(),
            resources: vec!["test://static-binary".into()],
            allow_if: Some(
                "tenant == 'acme' && has(claims.groups) && 'admins' in claims.groups".into(),
            ),
            ..PolicyConfig::default()
        },
    ]
}

fn config(jwks: &JwksServer) -> Config {
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    config.auth.resource_url = Some(AUDIENCE.into());
    config.auth.jwt.push(JwtConfig {
        issuer: ISSUER.into(),
        audience: vec![AUDIENCE.into()],
        jwks_url: Some(jwks.url()),
        refresh_min_interval_secs: 0,
        ..JwtConfig::default()
    });
    for id in ["acme", "globex"] {
        config.tenants.push(TenantConfig {
            id: id.into(),
            ..TenantConfig::default()
        });
    }
    config.policies = policies();
    config
}

/// A token of `tenant`'s `subject` with these extra claims.
fn token(keys: &TestKeys, tenant: &str, subject: &str, extra: Value) -> String {
    let mut c = claims(ISSUER, AUDIENCE, tenant, subject);
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    keys.sign("rsa-1", &c)
}

/// One row: who asks, what, and the rule that refuses it (none: allowed).
struct Case {
    who: (&'static str, &'static str, Value),
    method: &'static str,
    params: Value,
    refused_by: Option<&'static str>,
}

fn call(name: &str, args: Value) -> Value {
    json!({"name": name, "arguments": args})
}

fn cases() -> Vec<Case> {
    let ada = || {
        (
            "acme",
            "ada",
            json!({"groups": ["eng", "admins"], "email": "ada@acme.example", "scope": "time:read", "level": 3}),
        )
    };
    let bob = || {
        (
            "acme",
            "bob",
            json!({"groups": ["eng"], "email": "bob@elsewhere.example", "level": 1}),
        )
    };
    let gus = || {
        (
            "acme",
            "gus",
            json!({"groups": ["guests"], "email": "gus@acme.example", "scope": "time:read"}),
        )
    };
    let mallory = || ("acme", "mallory", json!({}));
    let gina = || ("globex", "gina", json!({"groups": ["admins"]}));
    let c = |who, method, params, refused_by| Case {
        who,
        method,
        params,
        refused_by,
    };
    vec![
        c(
            ada(),
            "tools/call",
            call("echo", json!({"message": "hi"})),
            None,
        ),
        c(
            ada(),
            "tools/call",
            call("echo", json!({"message": "my password is x"})),
            Some("echo-no-passwords"),
        ),
        c(
            ada(),
            "tools/call",
            call("add", json!({"a": 40, "b": 60})),
            None,
        ),
        c(
            ada(),
            "tools/call",
            call("add", json!({"a": 40, "b": 61})),
            Some("add-small"),
        ),
        c(ada(), "tools/call", call("sleep", json!({"ms": 1})), None),
        c(
            bob(),
            "tools/call",
            call("sleep", json!({"ms": 1})),
            Some("sleep-admins"),
        ),
        c(
            ada(),
            "tools/call",
            call("whoami", json!({"nonce": "abc1"})),
            None,
        ),
        c(
            bob(),
            "tools/call",
            call("whoami", json!({})),
            Some("whoami-own-domain"),
        ),
        c(
            ada(),
            "tools/call",
            call("whoami", json!({"nonce": "NOT OK"})),
            Some("whoami-nonce"),
        ),
        c(ada(), "tools/call", call("now", json!({})), None),
        c(
            bob(),
            "tools/call",
            call("now", json!({})),
            Some("now-needs-scope"),
        ),
        c(
            gus(),
            "tools/call",
            call("echo", json!({"message": "read-only is fine"})),
            None,
        ),
        c(
            gus(),
            "tools/call",
            call("now", json!({})),
            Some("guests-read-only"),
        ),
        c(
            mallory(),
            "tools/call",
            call("echo", json!({"message": "hi"})),
            Some("no-mallory"),
        ),
        c(
            bob(),
            "tools/call",
            call("add", json!({"a": 1, "b": 2})),
            Some("add-level"),
        ),
        c(
            ada(),
            "tools/call",
            call("add", json!({"a": 1, "b": 2})),
            None,
        ),
        c(
            gina(),
            "tools/call",
            call("echo", json!({"message": "hi"})),
            Some("globex-no-echo"),
        ),
        c(
            gina(),
            "tools/call",
            call("add", json!({"a": 1, "b": 2})),
            None,
        ),
        c(
            ada(),
            "prompts/get",
            json!({"name": "test_prompt_with_arguments", "arguments": {"arg1": "paris", "arg2": "beta"}}),
            None,
        ),
        c(
            ada(),
            "prompts/get",
            json!({"name": "test_prompt_with_arguments", "arguments": {"arg1": "forbidden", "arg2": "beta"}}),
            Some("prompt-no-forbidden"),
        ),
        c(
            ada(),
            "resources/read",
            json!({"uri": "test://static-binary"}),
            None,
        ),
        c(
            bob(),
            "resources/read",
            json!({"uri": "test://static-binary"}),
            Some("binary-for-admins"),
        ),
        c(
            gina(),
            "resources/read",
            json!({"uri": "test://static-binary"}),
            Some("binary-for-admins"),
        ),
    ]
}

fn check(era: &str, case: &Case, resp: &Value) {
    let what = format!("{era}: {} {} as {}", case.method, case.params, case.who.1);
    match case.refused_by {
        None => assert!(resp.get("result").is_some(), "{what} was refused: {resp}"),
        Some(rule) => {
            let err = &resp["error"];
            assert_eq!(err["code"], -32006, "{what}: {resp}");
            assert_eq!(err["data"]["policy"], rule, "{what}: {resp}");
            assert!(!err["message"].as_str().unwrap_or("").is_empty(), "{what}");
        }
    }
}

#[tokio::test]
async fn rules_over_arguments_and_claims_allow_and_refuse_in_both_eras() {
    let keys = TestKeys::load();
    let jwks = JwksServer::start(keys.jwks_json(&["rsa-1"])).await;
    let audit = std::env::temp_dir().join(format!("sb-policies-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&audit);
    let mut config = config(&jwks);
    config.auth.audit = audit.to_string_lossy().into_owned();
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let cases = cases();
    assert!(cases.iter().filter(|c| c.refused_by.is_some()).count() >= 10);
    for case in &cases {
        let (tenant, subject, extra) = &case.who;
        let bearer = token(&keys, tenant, subject, extra.clone());
        let mut session = McpClient::with_token(&server.url(), &bearer);
        session.initialize(json!({})).await;
        let (resp, _) = session.call(case.method, case.params.clone()).await;
        check("2025-11-25", case, &resp);
        let modern = ModernClient::with_token(&server.url(), &bearer);
        let (resp, _) = modern.call(case.method, case.params.clone()).await;
        check("2026-07-28", case, &resp);
    }
    // The refusals were counted per tenant and rule (twice: both eras).
    let metrics = server.metrics().await;
    for line in [
        r#"switchboard_policy_refusals_total{tenant="acme",rule="echo-no-passwords"} 2"#,
        r#"switchboard_policy_refusals_total{tenant="globex",rule="binary-for-admins"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    // And audited, with the rule and its reason (the writer is a thread).
    let mut seen = false;
    for _ in 0..500 {
        let text = std::fs::read_to_string(&audit).unwrap_or_default();
        seen = text.lines().any(|l| {
            let v: Value = serde_json::from_str(l).expect("every audit line is JSON");
            v["event"] == "policy_denied"
                && v["tenant"] == "acme"
                && v["principal"] == "mallory"
                && v["outcome"] == "denied"
                && v["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("no-mallory: "))
        });
        if seen {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        seen,
        "no policy_denied line for mallory in {}",
        audit.display()
    );
    let _ = std::fs::remove_file(&audit);
    // The messages say why: the configured one, or the rule's name.
    let bearer = token(&keys, "acme", "ada", json!({}));
    let modern = ModernClient::with_token(&server.url(), &bearer);
    let (resp, _) = modern
        .call("tools/call", call("echo", json!({"message": "password"})))
        .await;
    assert_eq!(resp["error"]["message"], "echo must not carry passwords");
    let (resp, _) = modern
        .call("tools/call", call("sleep", json!({"ms": 1})))
        .await;
    assert_eq!(
        resp["error"]["message"],
        r#"refused by policy "sleep-admins""#
    );
    // A rule that cannot decide (a missing key) refuses, and says so.
    let (resp, _) = modern
        .call("tools/call", call("add", json!({"a": 1})))
        .await;
    let message = resp["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("add-small") && message.contains("could not decide"),
        "{message}"
    );
}

#[test]
fn a_rule_that_does_not_compile_stops_the_load_naming_it_and_where() {
    let text = r#"
[[policies]]
name = "repos"
tools = ["github__*"]
allow_if = "args.repo.startsWith('acme/') &&"
"#;
    let e = Config::from_toml(text).unwrap_err();
    assert!(e.contains("policies[0].allow_if"), "{e}");
    assert!(e.contains(r#"policy "repos""#), "{e}");
    assert!(e.contains("line 1, column 33"), "{e}");
    // And the other mistakes a rule can have.
    for (text, key) in [
        (
            "[[policies]]\nname = \"x\"\ntools = [\"*\"]",
            "policies[0].allow_if",
        ),
        (
            "[[policies]]\nname = \"x\"\ntools = [\"*\"]\nallow_if = \"true\"\ndeny_if = \"false\"",
            "policies[0].allow_if",
        ),
        (
            "[[policies]]\nname = \"x\"\nallow_if = \"true\"",
            "policies[0].tools",
        ),
        (
            "[[policies]]\nname = \"x\"\ntools = [\"*\"]\nallow_if = \"true\"\ntenants = [\"nobody\"]",
            "policies[0].tenants",
        ),
        (
            "[[policies]]\nname = \"x\"\ntools = [\"*\"]\nallow_if = \"true\"\n[[policies]]\nname = \"x\"\ntools = [\"*\"]\nallow_if = \"true\"",
            "policies[1].name",
        ),
    ] {
        let e = Config::from_toml(text).unwrap_err();
        assert!(e.contains(key), "{text}: {e}");
    }
}

#[tokio::test]
async fn policies_and_the_redactor_reload_with_the_configuration() {
    let server = TestServer::start().await;
    let client = ModernClient::new(&server.url());
    let echo = |message: &str| call("echo", json!({ "message": message }));
    let (resp, _) = client
        .call(
            "tools/call",
            echo("ghp_0123456789abcdefghijABCDEFGHIJ012345"),
        )
        .await;
    assert_eq!(
        resp["result"]["content"][0]["text"], "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        "nothing configured: nothing changes"
    );
    let mut new = Config::default();
    new.policies.push(rule(
        "short-echo",
        &["echo"],
        Some("size(args.message) < 50"),
        None,
    ));
    new.redact.enabled = true;
    server.app.reload(new.clone()).await.expect("reloads");
    let (resp, _) = client.call("tools/call", echo(&"x".repeat(60))).await;
    assert_eq!(resp["error"]["data"]["policy"], "short-echo", "{resp}");
    let (resp, _) = client
        .call(
            "tools/call",
            echo("ghp_0123456789abcdefghijABCDEFGHIJ012345"),
        )
        .await;
    assert_eq!(
        resp["result"]["content"][0]["text"], "[redacted:github_token]",
        "{resp}"
    );
    // A rule that does not compile refuses the reload; the running one stays.
    let mut bad = new;
    bad.policies[0].allow_if = Some("size(args.message) <".into());
    let e = server.app.reload(bad).await.unwrap_err().to_string();
    assert!(
        e.contains("policies[0].allow_if") && e.contains("line 1"),
        "{e}"
    );
    let (resp, _) = client.call("tools/call", echo(&"x".repeat(60))).await;
    assert_eq!(resp["error"]["data"]["policy"], "short-echo", "{resp}");
}
