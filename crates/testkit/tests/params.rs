//! MCP params are a JSON object: every front refuses anything else with
//! -32602 before any layer reads them, and every spelling of a call that is
//! accepted is held to the same scopes, tool rates, audit and task rules,
//! because the gate, the catalog, metrics, the audit trail and the tasks
//! check read the tool's name with one reader.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_auth::JwtConfig;
use switchboard_auth::testing::{JwksServer, TestKeys, claims};
use switchboard_server::{AnonymousMode, Config, RateConfig, TenantConfig};
use switchboard_testkit::{
    MODERN, McpClient, ModernClient, Reply, SseReader, StdioClient, TestServer,
};

/// Params that are not an object, with what the refusal calls them.
const NOT_OBJECTS: [&str; 6] = [
    r#"["add",{"a":1,"b":2}]"#,
    "[]",
    r#""add""#,
    "5",
    "null",
    "true",
];

/// The session-era methods whose params some layer reads.
const SESSION_METHODS: [&str; 12] = [
    "tools/call",
    "tools/list",
    "prompts/get",
    "prompts/list",
    "resources/read",
    "resources/list",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "logging/setLevel",
    "ping",
];

const TASK_METHODS: [&str; 4] = ["tasks/list", "tasks/get", "tasks/result", "tasks/cancel"];

fn request(id: u64, method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#)
}

fn notification(method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":{params}}}"#)
}

/// The status and the JSON-RPC message answering a POST (the response of a
/// stream, or the JSON body).
async fn answer(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
    match McpClient::classify(rb.send().await.expect("POST")).await {
        Reply::Json(v) => (StatusCode::OK, v),
        Reply::Sse(r) => (StatusCode::OK, response_of(r).await),
        Reply::Other(status, body) => (status, serde_json::from_str(&body).unwrap_or(Value::Null)),
    }
}

async fn response_of(mut r: SseReader) -> Value {
    while let Some(ev) = r.next().await {
        if let Some(v) = ev.json().filter(|v| v.get("method").is_none()) {
            return v;
        }
    }
    panic!("the stream ended without a response")
}

/// A -32602 saying the params must be an object.
fn assert_not_an_object(case: &str, v: &Value) {
    assert_eq!(v["error"]["code"], -32602, "{case}: {v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("params must be an object"),
        "{case}: {message}"
    );
}

#[tokio::test]
async fn every_session_era_refuses_params_that_are_not_an_object() {
    let server = TestServer::start().await;
    for version in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        let mut c = server.client();
        c.version = version.into();
        c.initialize(json!({})).await;
        let tasks: &[&str] = if version == "2025-11-25" {
            &TASK_METHODS
        } else {
            &[]
        };
        for method in SESSION_METHODS.iter().chain(tasks) {
            for params in NOT_OBJECTS {
                let case = format!("{version} {method} {params}");
                let (status, v) = answer(c.post().body(request(c.id(), method, params))).await;
                assert_eq!(status, StatusCode::OK, "{case}: {v}");
                assert_not_an_object(&case, &v);
            }
        }
        for method in ["notifications/initialized", "notifications/cancelled"] {
            let (status, v) = answer(c.post().body(notification(method, "[1]"))).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{version} {method}: {v}");
            assert_eq!(v["id"], Value::Null, "{v}");
            assert_not_an_object(method, &v);
        }
        // Still serving the session.
        let (pong, _) = c.call("ping", json!({})).await;
        assert_eq!(pong["result"], json!({}), "{version}");
    }
}

#[tokio::test]
async fn a_batch_answers_each_bad_element_alone() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.version = "2025-03-26".into();
    c.initialize(json!({})).await;
    let batch = format!(
        "[{},{},{}]",
        request(7, "tools/call", r#"["add",{"a":1,"b":2}]"#),
        notification("notifications/cancelled", r#"[7]"#),
        request(8, "ping", "{}"),
    );
    let resp = c.post().body(batch).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let answers: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(answers.len(), 3, "{answers:?}");
    let by_id = |id: Value| answers.iter().find(|a| a["id"] == id).expect("answered");
    assert_not_an_object("the request", by_id(json!(7)));
    assert_not_an_object("the notification", by_id(Value::Null));
    assert_eq!(by_id(json!(8))["result"], json!({}));
}

/// serde reads a struct from a sequence: `initialize` by position made a
/// session.
#[tokio::test]
async fn initialize_by_position_makes_no_session() {
    let server = TestServer::start().await;
    let c = server.client();
    let params = r#"["2025-11-25",{},{"name":"x","version":"1"}]"#;
    let resp = c
        .post()
        .body(request(1, "initialize", params))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get("mcp-session-id").is_none());
    assert_not_an_object("initialize", &resp.json().await.unwrap());
    assert_eq!(server.app.live_sessions(), 0);
}

#[tokio::test]
async fn the_stateless_era_refuses_params_that_are_not_an_object() {
    let server = TestServer::start().await;
    let c = ModernClient::new(&server.url());
    let methods = [
        "tools/call",
        "tools/list",
        "prompts/get",
        "resources/read",
        "completion/complete",
        "server/discover",
        "tasks/get",
    ];
    for method in methods {
        for params in NOT_OBJECTS {
            let case = format!("{method} {params}");
            let rb = c
                .post(method, &json!({"name": "add"}))
                .body(request(1, method, params));
            let (status, v) = answer(rb).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {v}");
            assert_not_an_object(&case, &v);
        }
    }
    let rb = c
        .post("notifications/initialized", &json!({}))
        .body(notification("notifications/initialized", "[]"));
    let (status, v) = answer(rb).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_not_an_object("notification", &v);
    let (ok, _) = c
        .call(
            "tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    assert_eq!(ok["result"]["structuredContent"]["sum"], 3.0, "{ok}");
}

#[tokio::test]
async fn the_2024_11_05_transport_refuses_params_that_are_not_an_object() {
    let server = TestServer::start().await;
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
    let post = |body: String| {
        http.post(&url)
            .header("content-type", "application/json")
            .body(body)
    };
    let next = async |events: &mut SseReader| events.next().await.unwrap().json().unwrap();
    // `initialize` by position: refused on the stream; by name: served.
    let positional = r#"["2024-11-05",{},{"name":"x","version":"1"}]"#;
    let status = post(request(1, "initialize", positional))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::ACCEPTED);
    let v = next(&mut events).await;
    assert_eq!(v["id"], 1);
    assert_not_an_object("initialize", &v);
    let init = r#"{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"x","version":"1"}}"#;
    post(request(2, "initialize", init)).send().await.unwrap();
    assert_eq!(
        next(&mut events).await["result"]["protocolVersion"],
        "2024-11-05"
    );

    for (i, method) in SESSION_METHODS.iter().enumerate() {
        let id = 10 + i as u64;
        let status = post(request(id, method, NOT_OBJECTS[i % NOT_OBJECTS.len()]))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::ACCEPTED, "{method}");
        let v = next(&mut events).await;
        assert_eq!(v["id"], id, "{v}");
        assert_not_an_object(method, &v);
    }
    let resp = post(notification("notifications/cancelled", "[10]"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_not_an_object("notification", &resp.json().await.unwrap());
}

#[tokio::test]
async fn the_stdio_front_refuses_params_that_are_not_an_object() {
    let catalog = Arc::new(switchboard_everything::everything().build().unwrap());
    let mut c = StdioClient::start(catalog);
    let positional = r#"["2025-06-18",{},{"name":"x","version":"1"}]"#;
    c.send_line(&request(1, "initialize", positional)).await;
    let v = c.next().await;
    assert_eq!(v["id"], 1);
    assert_not_an_object("initialize", &v);
    let init = r#"{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}"#;
    c.send_line(&request(2, "initialize", init)).await;
    assert_eq!(c.next().await["result"]["protocolVersion"], "2025-06-18");
    for (i, method) in SESSION_METHODS.iter().enumerate() {
        let id = 10 + i as u64;
        c.send_line(&request(id, method, NOT_OBJECTS[i % NOT_OBJECTS.len()]))
            .await;
        let v = c.next().await;
        assert_eq!(v["id"], id, "{v}");
        assert_not_an_object(method, &v);
    }
    // A notification's refusal comes before the answer to what follows it.
    c.send_line(&notification("notifications/cancelled", "[10]"))
        .await;
    c.send_line(&request(30, "ping", "{}")).await;
    let v = c.next().await;
    assert_eq!(v["id"], Value::Null, "{v}");
    assert_not_an_object("notification", &v);
    assert_eq!(c.next().await["id"], 30);
    // A stateless request on stdio.
    c.send_line(&request(
        31,
        "tools/call",
        r#"["add",{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}]"#,
    ))
    .await;
    let v = c.next().await;
    assert_eq!(v["id"], 31);
    assert_not_an_object("stateless", &v);
    c.finish().await;
}

/// A task-only tool is never run in the call, however the call is spelled.
#[tokio::test]
async fn a_task_required_tool_never_runs_in_the_call() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.version = "2025-11-25".into();
    c.initialize(json!({})).await;
    let refused = [
        r#"["failing_job",{}]"#,
        r#"["failing_job",{},{"ttl":1000}]"#,
        r#"{"name":"failing_job","name":"failing_job"}"#,
        r#"{"name":"failing_job","arguments":{},"arguments":{}}"#,
    ];
    for params in refused {
        let (status, v) = answer(c.post().body(request(c.id(), "tools/call", params))).await;
        assert_eq!(status, StatusCode::OK, "{params}: {v}");
        assert_eq!(v["error"]["code"], -32602, "{params}: {v}");
    }
    let not_a_task = [
        r#"{"name":"failing_job"}"#,
        r#"{"name":"failing_jo\u0062","arguments":{}}"#,
        r#"{"\u006eame":"failing_job"}"#,
        r#"{"name":"failing_job","task":null}"#,
        r#"{"name":"failing_job","task":5}"#,
    ];
    for params in not_a_task {
        let (_, v) = answer(c.post().body(request(c.id(), "tools/call", params))).await;
        assert_eq!(v["error"]["code"], -32601, "{params}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("must be called as a task"),
            "{v}"
        );
    }
    let (_, v) = answer(c.post().body(request(
        c.id(),
        "tools/call",
        r#"{"name":"failing_jo\u0062","task":{}}"#,
    )))
    .await;
    assert_eq!(v["result"]["task"]["status"], "working", "{v}");
    // Stateless, without the tasks extension: refused by name, and by
    // position as not an object.
    let m = ModernClient::new(&server.url());
    let call = m.with_meta(json!({"name": "failing_job", "arguments": {}}));
    let (status, v) = answer(m.post("tools/call", &call).body(request(
        1,
        "tools/call",
        &call.to_string(),
    )))
    .await;
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(-32021)),
        "{v}"
    );
    let rb = m.post("tools/call", &call).body(request(
        1,
        "tools/call",
        &format!("[\"failing_job\",{{}},{call}]"),
    ));
    let (status, v) = answer(rb).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_not_an_object("stateless by position", &v);
}

const ISSUER: &str = "https://login.test";
const AUDIENCE: &str = "https://mcp.test/mcp";

/// Tenant acme: `add` and `slow_compute` need `tools:math`, `add` has a
/// tool rate of 2, `whoami` is denied; its tokens come from a JWKS the test
/// serves; the audit trail goes to `audit`.
async fn jwt_server(jwks: &JwksServer, audit: &std::path::Path) -> TestServer {
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    config.auth.resource_url = Some(AUDIENCE.into());
    config.auth.audit = audit.to_string_lossy().into_owned();
    config.auth.jwt.push(JwtConfig {
        issuer: ISSUER.into(),
        audience: vec![AUDIENCE.into()],
        jwks_url: Some(jwks.url()),
        refresh_min_interval_secs: 0,
        tenants: vec!["acme".into()],
        ..JwtConfig::default()
    });
    let mut acme = TenantConfig {
        id: "acme".into(),
        ..TenantConfig::default()
    };
    for tool in ["add", "slow_compute"] {
        acme.tool_scopes
            .insert(tool.into(), vec!["tools:math".into()]);
    }
    let burst_two = RateConfig {
        per_second: 0.0001,
        burst: 2,
    };
    acme.tool_rates.insert("add".into(), burst_two);
    acme.tools.deny = vec!["whoami".into()];
    config.tenants.push(acme);
    TestServer::with(config, switchboard_everything::everything()).await
}

/// Every way to spell a call of `tool` that is accepted.
fn accepted(tool: &str) -> Vec<String> {
    let (head, last) = tool.split_at(tool.len() - 1);
    let escaped = format!("{head}\\u{:04x}", last.as_bytes()[0]);
    vec![
        format!(r#"{{"name":"{escaped}","arguments":{{"a":1,"b":2}}}}"#),
        format!(r#"{{"name":"{tool}","arguments":{{"a":1,"b":2}}}}"#),
        format!(r#"{{"\u006eame":"{tool}","arguments":{{"a":1,"b":2}}}}"#),
        format!(r#"{{"arguments":{{"a":1,"b":2}},"extra":[1],"name":"{tool}"}}"#),
        format!(
            r#"{{"name":"{tool}","arguments":{{"a":1,"b":2}},"_meta":{{"progressToken":"p"}}}}"#
        ),
    ]
}

/// Spellings of a call of `tool` that no layer may take.
fn refused(tool: &str) -> Vec<String> {
    vec![
        format!(r#"["{tool}",{{"a":1,"b":2}}]"#),
        format!(r#"["{tool}",{{"a":1,"b":2}},{{"ttl":5000}}]"#),
        format!(r#"{{"name":"{tool}","name":"{tool}","arguments":{{"a":1,"b":2}}}}"#),
        format!(r#"{{"name":"echo","name":"{tool}","arguments":{{"a":1,"b":2}}}}"#),
        format!(r#"{{"name":"{tool}","arguments":{{"a":1,"b":2}},"arguments":{{}}}}"#),
    ]
}

/// The audit file's lines once `enough` says they are all there (the
/// writer is a background thread).
async fn audit_lines(path: &std::path::Path, enough: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..500 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let out: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if enough(&out) {
            return out;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("audit lines missing in {}", path.display());
}

/// A stateless POST of `tools/call` of `tool` with these raw params
/// (`_meta` with the tasks extension added when they are an object).
fn stateless_call(c: &ModernClient, tool: &str, params: &str) -> reqwest::RequestBuilder {
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}},
    });
    let params = match params.strip_suffix('}') {
        Some(open) => format!(r#"{open},"_meta":{meta}}}"#),
        None => params.to_owned(),
    };
    c.post("tools/call", &json!({"name": tool}))
        .body(request(1, "tools/call", &params))
}

#[tokio::test]
async fn scopes_tool_rates_and_the_audit_hold_for_every_accepted_spelling() {
    let dir = std::env::temp_dir().join(format!("sb-params-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let audit = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&audit);
    let keys = TestKeys::load();
    let jwks = JwksServer::start(keys.jwks_json(&["rsa-1"])).await;
    let server = jwt_server(&jwks, &audit).await;
    let unscoped = keys.sign("rsa-1", &claims(ISSUER, AUDIENCE, "acme", "alice"));
    let mut scoped_claims = claims(ISSUER, AUDIENCE, "acme", "bob");
    scoped_claims["scope"] = json!("tools:math");
    let scoped = keys.sign("rsa-1", &scoped_claims);

    // Without the scope: every accepted spelling is 403, in a session and
    // statelessly (where `slow_compute` would start a task).
    let mut alice = McpClient::with_token(&server.url(), &unscoped);
    alice.initialize(json!({})).await;
    let stateless = ModernClient::with_token(&server.url(), &unscoped);
    let mut forbidden = 0;
    for params in accepted("add") {
        let (status, v) = answer(
            alice
                .post()
                .body(request(alice.id(), "tools/call", &params)),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "session {params}: {v}");
        forbidden += 1;
    }
    for tool in ["add", "slow_compute"] {
        for params in accepted(tool) {
            let (status, v) = answer(stateless_call(&stateless, tool, &params)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "stateless {params}: {v}");
            forbidden += 1;
        }
    }
    for params in refused("add") {
        let (status, v) = answer(
            alice
                .post()
                .body(request(alice.id(), "tools/call", &params)),
        )
        .await;
        assert_eq!(
            (status, &v["error"]["code"]),
            (StatusCode::OK, &json!(-32602)),
            "session {params}: {v}"
        );
    }
    for tool in ["add", "slow_compute"] {
        for params in refused(tool) {
            let (status, v) = answer(stateless_call(&stateless, tool, &params)).await;
            assert_eq!(
                (status, &v["error"]["code"]),
                (StatusCode::BAD_REQUEST, &json!(-32602)),
                "stateless {params}: {v}"
            );
        }
    }
    // A denied tool, however spelled, is unknown and audited.
    for params in [
        r#"{"name":"whoami"}"#,
        r#"{"name":"wh\u006fami","arguments":{}}"#,
    ] {
        let (_, v) = answer(alice.post().body(request(alice.id(), "tools/call", params))).await;
        assert_eq!(v["error"]["code"], -32602, "{v}");
    }

    // With the scope: the tool rate (2) holds across spellings, and the
    // refused spellings spend nothing and run nothing.
    let mut bob = McpClient::with_token(&server.url(), &scoped);
    bob.initialize(json!({})).await;
    let mut statuses = Vec::new();
    for params in accepted("add") {
        let (status, v) = answer(bob.post().body(request(bob.id(), "tools/call", &params))).await;
        if status == StatusCode::OK {
            assert_eq!(
                v["result"]["structuredContent"]["sum"], 3.0,
                "{params}: {v}"
            );
        } else {
            assert_eq!(v["error"]["data"]["limit"], "tool", "{params}: {v}");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    for params in refused("add") {
        let (status, v) = answer(bob.post().body(request(bob.id(), "tools/call", &params))).await;
        assert_eq!(
            (status, &v["error"]["code"]),
            (StatusCode::OK, &json!(-32602)),
            "{params}: {v}"
        );
    }

    // The audit names the tool of every call it records.
    let lines = audit_lines(&audit, |l| {
        let n = |event: &str, outcome: &str| {
            l.iter()
                .filter(|x| x["event"] == event && x["outcome"] == outcome)
                .count()
        };
        n("forbidden_tool", "insufficient_scope") >= forbidden
            && n("forbidden_tool", "denied") >= 2
            && n("rate_limited", "tool") >= 3
            && n("tool_call", "ok") >= 2
    })
    .await;
    for l in &lines {
        let want = match (l["event"].as_str(), l["outcome"].as_str()) {
            (Some("forbidden_tool"), Some("denied")) => "whoami",
            (Some("forbidden_tool"), _) => l["tool"]
                .as_str()
                .filter(|t| *t == "slow_compute")
                .unwrap_or("add"),
            (Some("rate_limited" | "tool_call"), Some("ok" | "tool")) => "add",
            _ => continue,
        };
        assert_eq!(l["tool"], want, "{l}");
    }
    let calls: Vec<&Value> = lines.iter().filter(|l| l["event"] == "tool_call").collect();
    assert_eq!(
        calls.iter().filter(|l| l["outcome"] == "ok").count(),
        2,
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .all(|l| l["tool"] == "add" || l["outcome"] != "ok"),
        "{calls:?}"
    );
    server.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}
