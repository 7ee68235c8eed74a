//! `[[servers]]`: two virtual servers over three upstreams — the built-in
//! toolset, a stdio upstream (the fixture server, `st__`) and an HTTP
//! upstream written with the official Python SDK (`py__`) — each endpoint
//! lists exactly its curated set in the 2025-11-25 session era, the
//! 2026-07-28 stateless era and the 2024-11-05 HTTP+SSE transport; a tenant
//! allowed on one server only gets 403 on the other; an unknown server is
//! 404; a session is its server's; each says who it is.

use crate::fixture_upstream;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_server::{AnonymousMode, Config, ServerConfig};
use switchboard_testkit::{LegacyClient, McpClient, ModernClient, TestServer, tenant_with_key};
use switchboard_upstream::gateway::{PoolMode, StdioProvider, UpstreamConfig, UpstreamKind};

const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/venv/bin/python");
const PY_SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/interop/python/http_upstream_server.py"
);

/// The Python SDK's Streamable HTTP server on a free port, killed on drop.
struct PyUpstream {
    _child: tokio::process::Child,
    url: String,
}

async fn py_upstream() -> PyUpstream {
    assert!(
        std::path::Path::new(PYTHON).exists(),
        "{PYTHON} is missing: run scripts/tools.sh"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(PYTHON)
        .args([PY_SERVER, &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the Python SDK server");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    PyUpstream {
        _child: child,
        url: format!("http://127.0.0.1:{port}/mcp"),
    }
}

/// The fixture server as a shared stdio upstream, tools prefixed `st__`.
fn stdio_upstream() -> UpstreamConfig {
    UpstreamConfig {
        prefix: Some("st__".into()),
        mode: PoolMode::Shared,
        ..fixture_upstream::fixture("st")
    }
}

/// A server of `config` over the built-in toolset and the stdio upstream
/// (started, its tools listed).
async fn with_stdio(config: Config) -> TestServer {
    let p = Arc::new(StdioProvider::new(stdio_upstream()));
    p.probe().await.expect("upstream starts");
    TestServer::with(config, switchboard_everything::everything().provider(p)).await
}

fn globs(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// `dev` (both tenants) and `ops` (acme only).
fn servers() -> Vec<ServerConfig> {
    vec![
        ServerConfig {
            name: "dev".into(),
            tools: globs(&["echo", "add", "st__echo", "st__count", "py__py_echo"]),
            prompts: globs(&["test_simple_prompt"]),
            resources: globs(&["test://static-*"]),
            ..ServerConfig::default()
        },
        ServerConfig {
            name: "ops".into(),
            title: Some("Operations".into()),
            version: Some("7.0".into()),
            instructions: Some("Tools for operators only.".into()),
            hosts: vec!["ops.example.test".into()],
            tools: globs(&["now", "st__pid", "py__*"]),
            tenants: vec!["acme".into()],
            ..ServerConfig::default()
        },
    ]
}

/// The admin token of the first test's server.
const ADMIN_TOKEN: &str = "sb_admin-token-of-the-virtual-servers-test";

const DEV: [&str; 5] = ["add", "echo", "py__py_echo", "st__count", "st__echo"];
const OPS: [&str; 5] = [
    "now",
    "py__py_ask",
    "py__py_echo",
    "py__py_progress",
    "st__pid",
];

async fn gateway(py: &PyUpstream) -> (TestServer, String, String) {
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    let (acme, acme_key) = tenant_with_key("acme", "k");
    let (globex, globex_key) = tenant_with_key("globex", "k");
    config.tenants = vec![acme, globex];
    config.servers = servers();
    config.allowed_hosts = vec!["ops.example.test".into()];
    config.admin.token_sha256 = Some(switchboard_auth::digest_hex(ADMIN_TOKEN).into());
    let stdio = stdio_upstream();
    let http = UpstreamConfig {
        name: "py".into(),
        kind: UpstreamKind::Http,
        url: py.url.clone(),
        call_timeout_secs: 10,
        ..UpstreamConfig::default()
    };
    let mut builder = switchboard_everything::everything();
    for u in [stdio, http] {
        let p = Arc::new(StdioProvider::new(u));
        p.probe().await.expect("upstream starts");
        builder = builder.provider(p);
    }
    let server = TestServer::with(config, builder).await;
    (server, acme_key, globex_key)
}

fn names(resp: &Value, key: &str, field: &str) -> BTreeSet<String> {
    resp["result"][key]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {resp}"))
        .iter()
        .map(|t| t[field].as_str().unwrap().to_owned())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// What `key` sees at `url` in the session era and the stateless era.
async fn lists(url: &str, key: &str) -> [(Value, Value); 2] {
    let mut session = McpClient::with_token(url, key);
    let init = session.initialize(json!({})).await;
    let (tools, _) = session.call("tools/list", json!({})).await;
    let modern = ModernClient::with_token(url, key);
    let (modern_tools, _) = modern.call("tools/list", json!({})).await;
    let (discover, _) = modern.call("server/discover", json!({})).await;
    [(init, tools), (discover["result"].clone(), modern_tools)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_endpoint_serves_its_curated_set_to_the_tenants_it_admits() {
    let py = py_upstream().await;
    let (server, acme, globex) = gateway(&py).await;
    let base = server.url();
    let dev = format!("{base}/dev");
    let ops = format!("{base}/ops");

    for key in [&acme, &globex] {
        for (info, tools) in lists(&dev, key).await {
            assert_eq!(names(&tools, "tools", "name"), set(&DEV), "{tools}");
            assert_eq!(info["serverInfo"]["name"], "dev", "{info}");
        }
    }
    for (info, tools) in lists(&ops, &acme).await {
        assert_eq!(names(&tools, "tools", "name"), set(&OPS), "{tools}");
        assert_eq!(info["serverInfo"]["title"], "Operations", "{info}");
        assert_eq!(info["serverInfo"]["version"], "7.0", "{info}");
        assert_eq!(info["instructions"], "Tools for operators only.", "{info}");
    }
    // /mcp itself serves everything, as before.
    let mut all = McpClient::with_token(&base, &acme);
    all.initialize(json!({})).await;
    let (tools, _) = all.call("tools/list", json!({})).await;
    let every = names(&tools, "tools", "name");
    assert!(every.is_superset(&set(&DEV)) && every.is_superset(&set(&OPS)));

    // /mcp on the host ops names is ops.
    let on_host = reqwest::Client::new()
        .post(&base)
        .bearer_auth(&acme)
        .header("host", "ops.example.test")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(on_host.status().as_u16(), 200);
    let listed: Value = on_host.json().await.unwrap();
    assert_eq!(names(&listed, "tools", "name"), set(&OPS), "{listed}");

    // Prompts and resources are curated too.
    let mut s = McpClient::with_token(&dev, &acme);
    s.initialize(json!({})).await;
    let (prompts, _) = s.call("prompts/list", json!({})).await;
    assert_eq!(
        names(&prompts, "prompts", "name"),
        set(&["test_simple_prompt"])
    );
    let (resources, _) = s.call("resources/list", json!({})).await;
    let uris = names(&resources, "resources", "uri");
    assert!(
        !uris.is_empty() && uris.iter().all(|u| u.starts_with("test://static-")),
        "{uris:?}"
    );
    // What a server does not serve is unknown there, and works elsewhere.
    let (now, _) = s
        .call("tools/call", json!({"name": "now", "arguments": {}}))
        .await;
    assert_eq!(now["error"]["code"], -32602, "{now}");
    let served = s.call_tool("st__echo", json!({"x": 1})).await;
    assert!(served.get("structuredContent").is_some(), "{served}");
    let py_echo = s.call_tool("py__py_echo", json!({"message": "hi"})).await;
    assert_eq!(py_echo["content"][0]["text"], "py: hi", "{py_echo}");

    // A session is its server's: another endpoint does not find it.
    let mut elsewhere = McpClient::with_token(&ops, &acme);
    elsewhere.session = s.session.clone();
    let reply = elsewhere.request(99, "tools/list", json!({})).await;
    assert!(
        matches!(&reply, switchboard_testkit::Reply::Other(status, _) if status.as_u16() == 404),
        "{reply:?}"
    );

    // globex may not use ops: 403 in both eras; no server `nope`: 404.
    for (url, want) in [(&ops, 403), (&format!("{base}/nope"), 404)] {
        let mut c = McpClient::with_token(url, &globex);
        c.version = "2025-11-25".into();
        let resp = c.post().body(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}).to_string())
            .send().await.unwrap();
        assert_eq!(resp.status().as_u16(), want, "{url}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"]["message"].as_str().is_some(), "{body}");
        let modern = ModernClient::with_token(url, &globex);
        let resp = modern.post("tools/list", &json!({})).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), want, "{url} (2026-07-28)");
    }

    // The 2024-11-05 transport at /mcp/dev/sse posts to its own messages.
    let base_addr = format!("http://{}", server.addr);
    let mut legacy = LegacyClient::open(&base_addr, "/mcp/dev/sse", Some(&acme)).await;
    assert!(
        legacy.endpoint.starts_with("/mcp/dev/messages?sessionId="),
        "{}",
        legacy.endpoint
    );
    let init = legacy.initialize().await;
    assert_eq!(init["serverInfo"]["name"], "dev", "{init}");
    let listed = legacy.call(2, "tools/list", json!({})).await;
    assert_eq!(names(&listed, "tools", "name"), set(&DEV), "{listed}");

    // The admin API lists them.
    let listed: Value = reqwest::Client::new()
        .get(format!("{}/servers", server.admin_url()))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths: Vec<&str> = listed["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/mcp/dev", "/mcp/ops"], "{listed}");
    assert_eq!(listed["servers"][1]["tenants"], json!(["acme"]));

    // Each endpoint is a resource of its own (RFC 9728).
    let doc: Value = reqwest::get(format!(
        "http://{}/.well-known/oauth-protected-resource/mcp/ops",
        server.addr
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(
        doc["resource"].as_str().unwrap().ends_with("/mcp/ops"),
        "{doc}"
    );
    assert_eq!(doc["resource_name"], "ops");
}

/// A server `tidy` presenting the stdio upstream's `echo` as `say` (a
/// hidden fixed `owner`, `repo` narrowed to two values) and its `count` as
/// `tally` (`step` narrowed to 1).
fn overridden() -> ServerConfig {
    let text = r#"
name = "tidy"
tools = ["st__echo", "st__count", "echo"]

[[overrides]]
tool = "st__echo"
name = "say"
description = "Say something about one of our repositories"
fixed = { owner = "acme" }
schemas = { repo = { enum = ["site", "api"] } }

[[overrides]]
tool = "st__count"
name = "tally"
schemas = { step = { enum = [1] } }
"#;
    toml_server(text)
}

fn toml_server(text: &str) -> ServerConfig {
    let config = Config::from_toml(&format!(
        "[[servers]]\n{}",
        text.replace("[[overrides]]", "[[servers.overrides]]")
    ))
    .expect("a valid server");
    config.servers.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_show_their_definition_and_call_the_tool_as_itself() {
    let config = Config {
        servers: vec![overridden()],
        ..Config::default()
    };
    let server = with_stdio(config).await;
    let url = format!("{}/tidy", server.url());

    let mut session = McpClient::new(&url);
    session.initialize(json!({})).await;
    let modern = ModernClient::new(&url);
    for (era, tools) in [
        ("2025-11-25", session.call("tools/list", json!({})).await.0),
        ("2026-07-28", modern.call("tools/list", json!({})).await.0),
    ] {
        assert_eq!(
            names(&tools, "tools", "name"),
            set(&["echo", "say", "tally"]),
            "{era}: {tools}"
        );
        let say = tools["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "say")
            .unwrap();
        assert_eq!(
            say["description"],
            "Say something about one of our repositories"
        );
        assert!(
            say["inputSchema"]["properties"].get("owner").is_none(),
            "{say}"
        );
        assert_eq!(
            say["inputSchema"]["properties"]["repo"]["enum"],
            json!(["site", "api"]),
            "{say}"
        );
    }

    // The upstream gets its own name and the fixed value, in both eras.
    let said = session
        .call_tool("say", json!({"repo": "site", "text": "hi"}))
        .await;
    let got = &said["structuredContent"]["value"]["arguments"];
    assert_eq!(
        got,
        &json!({"repo": "site", "text": "hi", "owner": "acme"}),
        "{said}"
    );
    let (said, _) = modern
        .call(
            "tools/call",
            json!({"name": "say", "arguments": {"repo": "api"}}),
        )
        .await;
    let got = &said["result"]["structuredContent"]["value"]["arguments"];
    assert_eq!(got, &json!({"repo": "api", "owner": "acme"}), "{said}");

    // Refused before the upstream is called: its counter does not move.
    let tally = |step: u64| {
        session.call(
            "tools/call",
            json!({"name": "tally", "arguments": {"step": step}}),
        )
    };
    let first = fixture_upstream::value(&tally(1).await.0);
    let (refused, _) = tally(2).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("step"),
        "{refused}"
    );
    let second = fixture_upstream::value(&tally(1).await.0);
    assert_eq!(
        second.as_u64(),
        first.as_u64().map(|n| n + 1),
        "the refused call never reached it"
    );
    for (args, why) in [
        (json!({"repo": "secret"}), "\"repo\""),
        (
            json!({"repo": "site", "owner": "evil"}),
            "set by the server",
        ),
    ] {
        let (refused, _) = session
            .call("tools/call", json!({"name": "say", "arguments": args}))
            .await;
        assert_eq!(refused["error"]["code"], -32602, "{refused}");
        assert!(
            refused["error"]["message"].as_str().unwrap().contains(why),
            "{refused}"
        );
        // The stateless era answers invalid params with 400 and the error.
        let reply = modern
            .request(7, "tools/call", json!({"name": "say", "arguments": args}))
            .await;
        let switchboard_testkit::Reply::Other(status, body) = reply else {
            panic!("2026-07-28: not refused: {reply:?}");
        };
        assert_eq!(status.as_u16(), 400);
        let refused: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(refused["error"]["code"], -32602, "2026-07-28: {refused}");
    }
    // The tool's own name is unknown on this server (it would skip the
    // fixed value); /mcp serves it as it is.
    let (hidden, _) = session
        .call("tools/call", json!({"name": "st__echo", "arguments": {}}))
        .await;
    assert_eq!(hidden["error"]["code"], -32602, "{hidden}");
    let mut plain = McpClient::new(&server.url());
    plain.initialize(json!({})).await;
    let direct = plain
        .call_tool("st__echo", json!({"repo": "anything"}))
        .await;
    assert_eq!(
        direct["structuredContent"]["value"]["arguments"],
        json!({"repo": "anything"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_searching_server_lists_its_search_tool_and_finds_the_rest() {
    let config = Config {
        servers: vec![toml_server(
            "name = \"find\"\nsearch = true\ntools = [\"*\"]\n[[overrides]]\ntool = \"st__pid\"\nname = \"process_id\"\ndescription = \"The process id of the upstream\"",
        )],
        ..Config::default()
    };
    let server = with_stdio(config).await;
    let url = format!("{}/find", server.url());
    let mut session = McpClient::new(&url);
    session.initialize(json!({})).await;
    let modern = ModernClient::new(&url);
    for (era, listed) in [
        ("2025-11-25", session.call("tools/list", json!({})).await.0),
        ("2026-07-28", modern.call("tools/list", json!({})).await.0),
    ] {
        assert_eq!(
            names(&listed, "tools", "name"),
            set(&["search_tools"]),
            "{era}: {listed}"
        );
    }
    let found = session
        .call_tool("search_tools", json!({"query": "echo"}))
        .await;
    let found: BTreeSet<String> = found["structuredContent"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{found}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        found.contains("echo") && found.contains("st__echo"),
        "{found:?}"
    );
    assert!(!found.contains("add"), "{found:?}");
    // Found as the server presents them (the override), limited.
    let (pid, _) = modern
        .call(
            "tools/call",
            json!({"name": "search_tools", "arguments": {"query": "process upstream", "limit": 1}}),
        )
        .await;
    let tools = pid["result"]["structuredContent"]["tools"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(tools.len(), 1, "{pid}");
    assert_eq!(tools[0]["name"], "process_id", "{pid}");
    // Every tool stays callable by name.
    let pid = session.call_tool("process_id", json!({})).await;
    assert!(
        fixture_upstream::value(&json!({"result": pid})).is_u64(),
        "{pid}"
    );
    let echoed = session.call_tool("echo", json!({"message": "found"})).await;
    assert_eq!(echoed["content"][0]["text"], "found");
}
