//! Per-user credentials by OAuth 2.0 token exchange (RFC 8693), against a
//! real authorization server (Authlib, `tests/interop/python/oauth_server.py`,
//! in the venv `scripts/tools.sh` makes): each user's calls reach the
//! upstream (another Switchboard, which only accepts tokens meant for it)
//! with a token exchanged for that user, never the client's own; tokens
//! are cached per user until shortly before they expire; an identity
//! provider that is down gives a clear error and opens a breaker, not a
//! hang. Also a tenant's service identity by client credentials.

use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::{Value, json};
use switchboard_auth::JwtConfig;
use switchboard_runtime::CatalogBuilder;
use switchboard_server::{AnonymousMode, Config, TenantConfig};
use switchboard_testkit::{McpClient, ModernClient, TestServer, tenant_with_key};
use switchboard_upstream::gateway::{
    Grant, PoolMode, StdioProvider, UpstreamAuth, UpstreamConfig, UpstreamKind,
};

use switchboard_testkit::oauth::{OAuthServer, SWITCHBOARD, UPSTREAM};

/// A server of `catalog` accepting the authorization server's tokens
/// meant for `audience`, for the tenants acme and globex (and the API-key
/// tenant `keyed`); the key of `keyed`.
async fn resource_server(
    idp: &OAuthServer,
    audience: &str,
    catalog: CatalogBuilder,
    audit: Option<&std::path::Path>,
) -> (TestServer, String) {
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    if let Some(path) = audit {
        config.auth.audit = path.display().to_string();
    }
    config.auth.jwt.push(JwtConfig {
        issuer: idp.issuer(),
        audience: vec![audience.into()],
        jwks_url: Some(format!("{}/jwks", idp.issuer())),
        ..JwtConfig::default()
    });
    for id in ["acme", "globex"] {
        config.tenants.push(TenantConfig {
            id: id.into(),
            ..TenantConfig::default()
        });
    }
    let (keyed, key) = tenant_with_key("keyed", "k");
    config.tenants.push(keyed);
    (TestServer::with(config, catalog).await, key)
}

/// The upstream `web` at `url`, its tokens had with `grant`.
fn web(url: &str, idp: &OAuthServer, grant: Grant) -> UpstreamConfig {
    let (client_id, secret) = match grant {
        Grant::TokenExchange => ("switchboard", "switchboard-secret"),
        Grant::ClientCredentials => ("acme-svc", "acme-svc-secret"),
        Grant::AuthorizationCode => ("switchboard-connect", "connect-secret"),
    };
    UpstreamConfig {
        name: "web".into(),
        kind: UpstreamKind::Http,
        url: url.into(),
        call_timeout_secs: 10,
        mode: PoolMode::PerSession,
        auth: Some(UpstreamAuth {
            grant,
            token_endpoint: format!("{}/token", idp.issuer()),
            client_id: client_id.into(),
            client_secret: Some(secret.into()),
            audience: Some(UPSTREAM.into()),
            breaker_failures: 2,
            breaker_cool_down_secs: 60,
            ..UpstreamAuth::default()
        }),
        ..UpstreamConfig::default()
    }
}

/// The gateway: the upstream, its tenants taking the IdP's user tokens.
async fn gateway(idp: &OAuthServer, upstream: UpstreamConfig) -> (TestServer, String) {
    gateway_audited(idp, upstream, None).await
}

async fn gateway_audited(
    idp: &OAuthServer,
    upstream: UpstreamConfig,
    audit: Option<&std::path::Path>,
) -> (TestServer, String) {
    let provider = Arc::new(StdioProvider::new(upstream));
    provider.probe().await.expect("probe");
    resource_server(
        idp,
        SWITCHBOARD,
        CatalogBuilder::new().provider(provider),
        audit,
    )
    .await
}

/// The audit file's `upstream_credential` lines once `enough` says they
/// are there (the writer is a background thread); the whole text too.
async fn credential_lines(
    path: &std::path::Path,
    enough: impl Fn(&[Value]) -> bool,
) -> (Vec<Value>, String) {
    for _ in 0..500 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["event"] == "upstream_credential")
            .collect();
        if enough(&lines) {
            return (lines, text);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("audit lines missing in {}", path.display());
}

/// Who the upstream says called (`whoami`), or the error.
async fn whoami(client: &McpClient) -> Value {
    let r = client
        .call(
            "tools/call",
            json!({"name": "web__whoami", "arguments": {}}),
        )
        .await
        .0;
    match r["result"]["structuredContent"].is_object() {
        true => r["result"]["structuredContent"].clone(),
        false => r,
    }
}

async fn session(server: &TestServer, token: &str) -> McpClient {
    let mut c = McpClient::with_token(&server.url(), token);
    let init = c.initialize(json!({})).await;
    assert!(init.get("error").is_none(), "{init}");
    c
}

async fn tokens_metric(server: &TestServer, outcome: &str) -> u64 {
    let base = server.url().trim_end_matches("/mcp").to_owned();
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap_or_default();
    let series =
        format!("switchboard_upstream_tokens_total{{upstream=\"web\",outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_reaches_the_upstream_with_a_token_exchanged_for_them() {
    let mut idp = OAuthServer::start(&[]).await;
    let (upstream, _) =
        resource_server(&idp, UPSTREAM, switchboard_everything::everything(), None).await;
    let audit =
        std::env::temp_dir().join(format!("sb-token-exchange-audit-{}", std::process::id()));
    let _ = std::fs::remove_file(&audit);
    let upstream_config = web(&upstream.url(), &idp, Grant::TokenExchange);
    let (server, api_key) = gateway_audited(&idp, upstream_config, Some(&audit)).await;
    let alice = idp.user_token("alice").await;

    // Many calls at once from one session: one exchange.
    let a = session(&server, &alice).await;
    let answers = join_all((0..8).map(|_| whoami(&a))).await;
    for who in &answers {
        assert_eq!(
            (who["tenant"].as_str(), who["subject"].as_str()),
            (Some("acme"), Some("alice")),
            "{who}"
        );
    }
    assert_eq!(
        idp.stats().await["exchanges"],
        1,
        "one exchange for alice's calls"
    );
    // A second session and a stateless client of the same user: cached.
    let a2 = session(&server, &alice).await;
    assert_eq!(whoami(&a2).await["subject"], "alice");
    let modern = ModernClient::with_token(&server.url(), &alice);
    let r = modern
        .call(
            "tools/call",
            json!({"name": "web__whoami", "arguments": {}}),
        )
        .await
        .0;
    assert_eq!(r["result"]["structuredContent"]["subject"], "alice", "{r}");
    assert_eq!(idp.stats().await["exchanges"], 1);
    assert!(tokens_metric(&server, "cached").await >= 9);
    assert_eq!(tokens_metric(&server, "issued").await, 1);

    // Another user of the same tenant, and one of another tenant: their own.
    let bob = session(&server, &idp.user_token("bob").await).await;
    assert_eq!(whoami(&bob).await["subject"], "bob");
    let carol = session(&server, &idp.user_token("carol").await).await;
    let who = whoami(&carol).await;
    assert_eq!(
        (who["tenant"].as_str(), who["subject"].as_str()),
        (Some("globex"), Some("carol"))
    );
    let stats = idp.stats().await;
    assert_eq!(stats["exchanges"], 3, "{stats}");
    assert_eq!(stats["subjects"], json!(["alice", "bob", "carol"]));
    assert_eq!(
        stats["actors"],
        json!(["switchboard", "switchboard", "switchboard"])
    );

    // An API key has no token to exchange: refused, saying why.
    let keyed = session(&server, &api_key).await;
    let refused = whoami(&keyed).await;
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("only a caller authenticated with a JWT"),
        "{refused}"
    );
    assert_eq!(idp.stats().await["exchanges"], 3);

    // The identity provider goes down: a cached token still serves; a
    // user without one gets a clear error at once, then the breaker.
    let bob_again = idp.user_token("bob").await; // a new token: a new exchange
    idp.stop().await;
    assert_eq!(whoami(&a).await["subject"], "alice", "cached");
    let b2 = session(&server, &bob_again).await;
    let first = whoami(&b2).await;
    let message = first["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("identity provider for upstream web is unavailable"),
        "{first}"
    );
    let _second = whoami(&b2).await;
    let third = whoami(&b2).await;
    let message = third["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("circuit open"), "{third}");
    assert!(tokens_metric(&server, "circuit_open").await >= 1);

    // Each use is audited with its principal, upstream and outcome; no
    // token is.
    let has = |lines: &[Value], who: &str, outcome: &str| {
        lines
            .iter()
            .any(|l| l["principal"] == who && l["outcome"] == outcome && l["upstream"] == "web")
    };
    let (lines, text) = credential_lines(&audit, |l| {
        has(l, "alice", "issued")
            && has(l, "alice", "cached")
            && has(l, "k", "no_client_token")
            && has(l, "bob", "unavailable")
            && has(l, "bob", "circuit_open")
    })
    .await;
    assert!(lines.iter().all(|l| l["tenant"].is_string()), "{lines:?}");
    for token in [&alice, &bob_again] {
        assert!(
            !text.contains(token.as_str()),
            "a client token in the audit trail"
        );
    }
    server.stop().await;
    upstream.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_exchanged_token_is_exchanged_again() {
    let idp = OAuthServer::start(&[("EXCHANGE_TTL", "2")]).await;
    let (upstream, _) =
        resource_server(&idp, UPSTREAM, switchboard_everything::everything(), None).await;
    let (server, _) = gateway(&idp, web(&upstream.url(), &idp, Grant::TokenExchange)).await;
    let a = session(&server, &idp.user_token("alice").await).await;
    assert_eq!(whoami(&a).await["subject"], "alice");
    assert_eq!(whoami(&a).await["subject"], "alice");
    assert_eq!(idp.stats().await["exchanges"], 1);
    // Held until a quarter of its 2 s lifetime before it expires.
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_eq!(whoami(&a).await["subject"], "alice");
    assert_eq!(idp.stats().await["exchanges"], 2);
    server.stop().await;
    upstream.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_s_service_identity_by_client_credentials() {
    let idp = OAuthServer::start(&[]).await;
    let (upstream, _) =
        resource_server(&idp, UPSTREAM, switchboard_everything::everything(), None).await;
    let mut up = web(&upstream.url(), &idp, Grant::ClientCredentials);
    // globex has a client of its own; acme uses the upstream's (acme-svc).
    up.tenants.insert(
        "globex".into(),
        switchboard_upstream::gateway::TenantCredentials {
            client_id: Some("globex-svc".into()),
            client_secret: Some("globex-svc-secret".into()),
            ..Default::default()
        },
    );
    let (server, _) = gateway(&idp, up).await;
    let issued_at_start = idp.stats().await["client_credentials"].as_u64().unwrap();
    assert_eq!(issued_at_start, 1, "the probe's token");
    let alice = session(&server, &idp.user_token("alice").await).await;
    let carol = session(&server, &idp.user_token("carol").await).await;
    let who = whoami(&alice).await;
    assert_eq!(
        (who["tenant"].as_str(), who["subject"].as_str()),
        (Some("acme"), Some("acme-svc")),
        "{who}"
    );
    let who = whoami(&carol).await;
    assert_eq!(
        (who["tenant"].as_str(), who["subject"].as_str()),
        (Some("globex"), Some("globex-svc")),
        "{who}"
    );
    whoami(&alice).await;
    whoami(&carol).await;
    let stats = idp.stats().await;
    assert_eq!(
        stats["client_credentials"], 3,
        "one per tenant, then cached: {stats}"
    );
    assert_eq!(stats["exchanges"], 0);
    server.stop().await;
    upstream.stop().await;
}
