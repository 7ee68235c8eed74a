//! Tenants' own credentials for an upstream (`[upstreams.tenants.<id>]`):
//! every call of a tenant reaches the upstream with exactly that tenant's
//! credentials — a stdio upstream's processes their environment, an HTTP
//! upstream's sessions their headers — under concurrency, in
//! `per_session` and `shared` modes, from session and stateless clients;
//! no process and no upstream session ever serves two tenants; a tenant
//! without credentials of its own gets the upstream's, or, with
//! `credentials = "per_tenant"`, is refused and sees none of its tools.

use crate::fixture_upstream;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::{Value, json};
use switchboard_runtime::CatalogBuilder;
use switchboard_testkit::{McpClient, ModernClient, TestServer, tenant_with_key};
use switchboard_upstream::gateway::{
    Credentials, PoolMode, StdioProvider, TenantCredentials, UpstreamConfig, UpstreamKind,
};

use fixture_upstream::{fixture, value};

/// The variable the stdio upstream reports.
const VAR: &str = "SB_TEST_UPSTREAM_TOKEN";

/// Gateway tenants: `a` and `b` get credentials of their own, `c` none.
const TENANTS: [&str; 3] = ["a", "b", "c"];

fn own_env(value: &str) -> TenantCredentials {
    TenantCredentials {
        env: BTreeMap::from([(VAR.to_owned(), value.into())]),
        ..TenantCredentials::default()
    }
}

fn own_header(value: &str) -> TenantCredentials {
    TenantCredentials {
        // Another case than the upstream's own header: the tenant's
        // replaces it all the same.
        headers: BTreeMap::from([("authorization".to_owned(), value.into())]),
        ..TenantCredentials::default()
    }
}

/// A gateway in front of `upstream`, its tenants `a`, `b`, `c` (anonymous
/// access off) and their keys.
async fn gateway(upstream: UpstreamConfig) -> (TestServer, HashMap<&'static str, String>) {
    let mut config = switchboard_server::Config::default();
    config.auth.anonymous = switchboard_server::AnonymousMode::Off;
    let mut keys = HashMap::new();
    for id in TENANTS {
        let (tenant, key) = tenant_with_key(id, "k");
        config.tenants.push(tenant);
        keys.insert(id, key);
    }
    let provider = Arc::new(StdioProvider::new(upstream));
    provider.probe().await.expect("upstream starts");
    let server = TestServer::with(config, CatalogBuilder::new().provider(provider)).await;
    (server, keys)
}

/// Every tenant calls `tool` from `sessions` session clients and one
/// stateless client, `calls` calls each, all at once: what each call
/// answered, by tenant.
async fn call_all(
    server: &TestServer,
    keys: &HashMap<&'static str, String>,
    tool: &str,
    args: Value,
    sessions: usize,
    calls: usize,
) -> Vec<(&'static str, Value)> {
    let params = json!({"name": tool, "arguments": args});
    let mut clients = Vec::new();
    for tenant in TENANTS {
        for _ in 0..sessions {
            let mut c = McpClient::with_token(&server.url(), &keys[tenant]);
            c.initialize(json!({})).await;
            clients.push((tenant, Client::Session(c)));
        }
        let modern = ModernClient::with_token(&server.url(), &keys[tenant]);
        clients.push((tenant, Client::Stateless(modern)));
    }
    let mut futures = Vec::new();
    for (tenant, client) in &clients {
        for _ in 0..calls {
            let params = params.clone();
            futures.push(async move { (*tenant, client.call(params).await) });
        }
    }
    join_all(futures).await
}

enum Client {
    Session(McpClient),
    Stateless(ModernClient),
}

impl Client {
    async fn call(&self, params: Value) -> Value {
        match self {
            Client::Session(c) => c.call("tools/call", params).await.0,
            Client::Stateless(c) => c.call("tools/call", params).await.0,
        }
    }
}

/// Check that every answer carries its tenant's credential (`credential`
/// reads it, `holder` reads which process or upstream session answered,
/// if any did), and that no holder served two tenants. Returns the
/// holders.
fn check(
    answers: &[(&'static str, Value)],
    want: &HashMap<&str, &str>,
    credential: impl Fn(&Value) -> Value,
    holder: impl Fn(&Value) -> Option<String>,
) -> HashMap<String, HashSet<&'static str>> {
    let mut holders: HashMap<String, HashSet<&'static str>> = HashMap::new();
    for (tenant, answer) in answers {
        assert!(answer.get("error").is_none(), "{tenant}: {answer}");
        assert_eq!(
            credential(answer),
            json!(want[tenant]),
            "{tenant}: {answer}"
        );
        if let Some(holder) = holder(answer) {
            holders.entry(holder).or_default().insert(tenant);
        }
    }
    for (holder, tenants) in &holders {
        assert_eq!(tenants.len(), 1, "{holder} served {tenants:?}");
    }
    holders
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdio_upstream_s_processes_carry_their_tenant_s_environment() {
    let want = HashMap::from([("a", "token-a"), ("b", "token-b"), ("c", "upstream-own")]);
    for mode in [PoolMode::PerSession, PoolMode::Shared] {
        let mut up = fixture("up");
        up.mode = mode;
        up.processes = 2;
        up.env.insert(VAR.into(), "upstream-own".into());
        up.tenants.insert("a".into(), own_env("token-a"));
        up.tenants.insert("b".into(), own_env("token-b"));
        let (server, keys) = gateway(up).await;
        let answers = call_all(&server, &keys, "up__env", json!({"name": VAR}), 3, 6).await;
        assert_eq!(answers.len(), 3 * 4 * 6);
        let pids = check(
            &answers,
            &want,
            |a| value(a)["value"].clone(),
            |a| Some(value(a)["pid"].to_string()),
        );
        match mode {
            // A process per session (and per stateless principal).
            PoolMode::PerSession => assert_eq!(pids.len(), 3 * 4, "{mode:?}: {pids:?}"),
            // At most `processes` per credential set (calls take the
            // shared slots in turn, across tenants).
            PoolMode::Shared => assert!((3..=3 * 2).contains(&pids.len()), "{pids:?}"),
        }
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_tenant_credentials_refuse_a_tenant_without_its_own() {
    let mut up = fixture("up");
    up.credentials = Credentials::PerTenant;
    up.tenants.insert("a".into(), own_env("token-a"));
    up.tenants.insert("b".into(), own_env("token-b"));
    let (server, keys) = gateway(up).await;
    let mut c = McpClient::with_token(&server.url(), &keys["c"]);
    c.initialize(json!({})).await;
    let listed = c.call("tools/list", json!({})).await.0;
    let tools = listed["result"]["tools"].as_array().expect("a list");
    assert!(
        tools
            .iter()
            .all(|t| !t["name"].as_str().unwrap_or_default().starts_with("up__")),
        "{listed}"
    );
    let refused = c
        .call(
            "tools/call",
            json!({"name": "up__env", "arguments": {"name": VAR}}),
        )
        .await
        .0;
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("needs credentials of tenant c's own"),
        "{refused}"
    );
    let mut a = McpClient::with_token(&server.url(), &keys["a"]);
    a.initialize(json!({})).await;
    let listed = a.call("tools/list", json!({})).await.0;
    assert!(listed.to_string().contains("up__env"), "{listed}");
    let answer = a
        .call(
            "tools/call",
            json!({"name": "up__env", "arguments": {"name": VAR}}),
        )
        .await
        .0;
    assert_eq!(value(&answer)["value"], "token-a", "{answer}");
    server.stop().await;
}

/// The HTTP upstream: another Switchboard whose tenants `ua`, `ub`, `uc`
/// each hold an API key; its `whoami` says which tenant a request
/// authenticated as, and from which upstream session.
async fn http_upstream() -> (TestServer, HashMap<&'static str, String>) {
    let mut config = switchboard_server::Config::default();
    config.auth.anonymous = switchboard_server::AnonymousMode::Off;
    let mut keys = HashMap::new();
    for id in ["ua", "ub", "uc"] {
        let (tenant, key) = tenant_with_key(id, "k");
        config.tenants.push(tenant);
        keys.insert(id, key);
    }
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    (server, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_upstream_s_sessions_carry_their_tenant_s_headers() {
    let (upstream, upstream_keys) = http_upstream().await;
    let want = HashMap::from([("a", "ua"), ("b", "ub"), ("c", "uc")]);
    for mode in [PoolMode::PerSession, PoolMode::Shared] {
        let bearer = |id: &str| format!("Bearer {}", upstream_keys[id]);
        let mut web = UpstreamConfig {
            name: "web".into(),
            kind: UpstreamKind::Http,
            url: upstream.url(),
            call_timeout_secs: 10,
            mode,
            processes: 2,
            ..UpstreamConfig::default()
        };
        web.headers
            .insert("Authorization".into(), bearer("uc").into());
        web.tenants.insert("a".into(), own_header(&bearer("ua")));
        web.tenants.insert("b".into(), own_header(&bearer("ub")));
        let (server, keys) = gateway(web).await;
        let answers = call_all(&server, &keys, "web__whoami", json!({}), 3, 6).await;
        assert_eq!(answers.len(), 3 * 4 * 6);
        let sessions = check(
            &answers,
            &want,
            |a| a["result"]["structuredContent"]["tenant"].clone(),
            // A stateless client's call goes to this upstream (which
            // speaks 2026-07-28) as a stateless request: no session.
            |a| {
                let session = &a["result"]["structuredContent"]["session"];
                session.as_str().map(str::to_owned)
            },
        );
        match mode {
            // An upstream session per client session.
            PoolMode::PerSession => assert_eq!(sessions.len(), 3 * 3, "{sessions:?}"),
            PoolMode::Shared => assert!((3..=3 * 2).contains(&sessions.len()), "{sessions:?}"),
        }
        server.stop().await;
    }
    upstream.stop().await;
}
