//! OAuth to an upstream by each user's own sign-in (`grant =
//! "authorization_code"`), against a real authorization server (Authlib:
//! code flow with PKCE S256 required, refresh tokens): a user without a
//! grant gets a URL elicitation (-32042) naming Switchboard's connect page;
//! signing in there (a browser following the redirects and posting the
//! login form) stores the grant; the call then succeeds as that user.
//! Another user is asked for their own grant; an expired access token is
//! refreshed; a revoked grant asks again. Bad input — a forged or replayed
//! state, a code from another user's sign-in (PKCE mismatch), an extra
//! redirect parameter, the server's error — is refused with a clear page
//! and stores nothing.

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_identity::{Vault, VaultKey};
use switchboard_runtime::CatalogBuilder;
use switchboard_server::{AnonymousMode, Config, TenantConfig};
use switchboard_store::{EntryStore, MemoryEntryStore};
use switchboard_testkit::oauth::{OAuthServer, UPSTREAM};
use switchboard_testkit::{McpClient, ModernClient, TestServer};
use switchboard_upstream::gateway::{
    Grant, PoolMode, StdioProvider, UpstreamAuth, UpstreamConfig, UpstreamKind, UpstreamsShared,
};

/// The upstream: a Switchboard accepting the authorization server's
/// tokens meant for it, for tenant acme.
async fn upstream(idp: &OAuthServer) -> TestServer {
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    config.auth.jwt.push(idp.jwt(UPSTREAM));
    // Its protected-resource metadata names the authorization server.
    config.auth.authorization_servers = vec![idp.issuer()];
    config.tenants.push(TenantConfig {
        id: "acme".into(),
        ..TenantConfig::default()
    });
    TestServer::with(config, switchboard_everything::everything()).await
}

/// The gateway, its API keys by user (alice, bob, carol, dave of tenant
/// acme), and the vault's store.
struct Gateway {
    server: TestServer,
    keys: std::collections::HashMap<&'static str, String>,
    store: Arc<MemoryEntryStore>,
}

async fn gateway(idp: &OAuthServer, upstream: &TestServer) -> Gateway {
    gateway_with(idp, upstream, |auth| auth).await
}

/// [`gateway`], its upstream's `[upstreams.auth]` passed through `tweak`.
async fn gateway_with(
    idp: &OAuthServer,
    upstream: &TestServer,
    tweak: impl FnOnce(UpstreamAuth) -> UpstreamAuth,
) -> Gateway {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let store = Arc::new(MemoryEntryStore::new());
    let key = VaultKey {
        id: "k1".into(),
        key: [7; 32],
    };
    let vault = Arc::new(Vault::new(store.clone(), &[key]).unwrap());
    let shared = UpstreamsShared {
        vault: Some(vault),
        ..UpstreamsShared::default()
    };
    let web = UpstreamConfig {
        name: "web".into(),
        kind: UpstreamKind::Http,
        url: upstream.url(),
        call_timeout_secs: 10,
        mode: PoolMode::PerSession,
        auth: Some(tweak(UpstreamAuth {
            grant: Grant::AuthorizationCode,
            token_endpoint: format!("{}/token", idp.issuer()),
            authorization_endpoint: Some(format!("{}/authorize", idp.issuer())),
            redirect_uri: Some(format!("http://127.0.0.1:{port}/connect/callback")),
            client_id: "switchboard-connect".into(),
            client_secret: Some("connect-secret".into()),
            resource: Some(UPSTREAM.into()),
            ..UpstreamAuth::default()
        })),
        ..UpstreamConfig::default()
    };
    let provider = Arc::new(StdioProvider::with_shared(
        web.clone(),
        None,
        shared.clone(),
    ));
    provider.probe().await.expect("probe");
    let mut config = Config::default();
    // As the binary has it: the connect pages read the upstream's settings
    // from the configuration.
    config.upstreams.push(web);
    config.auth.anonymous = AnonymousMode::Off;
    let mut tenant = TenantConfig {
        id: "acme".into(),
        ..TenantConfig::default()
    };
    let mut keys = std::collections::HashMap::new();
    for user in ["alice", "bob", "carol", "dave"] {
        let (key, sha256) = switchboard_auth::new_api_key();
        tenant.api_keys.push(switchboard_server::ApiKeyConfig {
            id: user.into(),
            sha256,
        });
        keys.insert(user, key);
    }
    config.tenants.push(tenant);
    let (admin_key, admin_sha) = switchboard_auth::new_api_key();
    config.admin.token_sha256 = Some(admin_sha.into());
    keys.insert("admin", admin_key);
    let catalog = CatalogBuilder::new().provider(provider);
    let server = TestServer::on(listener, config, catalog, |app| app.upstreams(shared)).await;
    Gateway {
        server,
        keys,
        store,
    }
}

impl Gateway {
    async fn session(&self, user: &str) -> McpClient {
        let mut c = McpClient::with_token(&self.server.url(), &self.keys[user]);
        c.initialize(json!({})).await;
        c
    }

    /// The names of acme's vault entries.
    async fn kept(&self) -> Vec<String> {
        self.store.names("acme").await.unwrap()
    }
}

async fn whoami(c: &McpClient) -> Value {
    c.call(
        "tools/call",
        json!({"name": "web__whoami", "arguments": {}}),
    )
    .await
    .0
}

/// The connect page's URL a -32042 answer names.
fn sign_in_url(answer: &Value) -> String {
    assert_eq!(answer["error"]["code"], -32042, "{answer}");
    let e = &answer["error"]["data"]["elicitations"][0];
    assert_eq!(e["mode"], "url", "{answer}");
    assert!(e["elicitationId"].is_string(), "{answer}");
    e["url"].as_str().expect("a URL").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_signs_in_once_and_the_upstream_sees_them() {
    let idp = OAuthServer::start(&[]).await;
    let up = upstream(&idp).await;
    let gw = gateway(&idp, &up).await;

    let alice = gw.session("alice").await;
    let url = sign_in_url(&whoami(&alice).await);
    assert!(url.contains("/connect?state="), "{url}");
    // Asked again before signing in: the same sign-in.
    assert_eq!(sign_in_url(&whoami(&alice).await), url);
    let (status, page) = idp.sign_in(&url, "alice").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Connected"), "{page}");
    let who = whoami(&alice).await;
    let seen = &who["result"]["structuredContent"];
    assert_eq!(
        (seen["tenant"].as_str(), seen["subject"].as_str()),
        (Some("acme"), Some("alice")),
        "{who}"
    );
    // A new session of the same user: no new sign-in.
    let again = gw.session("alice").await;
    assert_eq!(
        whoami(&again).await["result"]["structuredContent"]["subject"],
        "alice"
    );

    // Another user of the tenant is asked for their own grant.
    let bob = gw.session("bob").await;
    let bob_url = sign_in_url(&whoami(&bob).await);
    assert_ne!(bob_url, url);
    let (status, _) = idp.sign_in(&bob_url, "bob").await;
    assert_eq!(status, 200);
    assert_eq!(
        whoami(&bob).await["result"]["structuredContent"]["subject"],
        "bob"
    );
    let stats = idp.stats().await;
    assert_eq!(stats["code_subjects"], json!(["alice", "bob"]), "{stats}");

    // The vault holds the two grants, sealed.
    let kept = gw.kept().await;
    assert_eq!(
        kept.iter().filter(|n| n.starts_with("grant\0")).count(),
        2,
        "{kept:?}"
    );
    for name in &kept {
        let sealed = gw.store.get("acme", name).await.unwrap().unwrap();
        assert!(
            !sealed.windows(3).any(|w| w == b"eyJ"),
            "a token in the clear"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sign_ins_are_refused_and_store_nothing() {
    let idp = OAuthServer::start(&[]).await;
    let up = upstream(&idp).await;
    let gw = gateway(&idp, &up).await;
    let base = gw.server.url().trim_end_matches("/mcp").to_owned();
    let get = |path: String| async move {
        let r = reqwest::get(path).await.expect("a page");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    };

    // A forged state, at the page and at the callback.
    let (status, page) = get(format!("{base}/connect?state=forged")).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("unknown or was already used"), "{page}");
    let (status, _) = get(format!("{base}/connect/callback?state=forged&code=abc")).await;
    assert_eq!(status, 400);

    // An extra redirect parameter at the connect page.
    let carol = gw.session("carol").await;
    let carol_url = sign_in_url(&whoami(&carol).await);
    let (status, page) = get(format!(
        "{carol_url}&redirect_uri=https%3A%2F%2Fevil.example%2F"
    ))
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("takes no parameter"), "{page}");

    // A code from another user's sign-in: dave signs in, and his code is
    // brought back with carol's state. The server refuses it (the PKCE
    // verifier is carol's), and carol's state is used up.
    let dave = gw.session("dave").await;
    let dave_url = sign_in_url(&whoami(&dave).await);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let to_server = browser.get(&dave_url).send().await.unwrap();
    let authorize = to_server.headers()["location"].to_str().unwrap().to_owned();
    let login = browser
        .post(&authorize)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=dave&password=dave-pw")
        .send()
        .await
        .unwrap();
    let back = login.headers()["location"].to_str().unwrap().to_owned();
    let code = back
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .expect("a code")
        .to_owned();
    let carol_state = carol_url.split("state=").nth(1).unwrap().to_owned();
    let (status, page) = get(format!(
        "{base}/connect/callback?state={carol_state}&code={code}"
    ))
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("refused a token") && page.contains("invalid_grant"),
        "{page}"
    );
    // Replayed: the same state again.
    let (status, page) = get(format!(
        "{base}/connect/callback?state={carol_state}&code={code}"
    ))
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("unknown or was already used"), "{page}");
    // The server's own error.
    let again = sign_in_url(&whoami(&carol).await);
    assert_ne!(again, carol_url, "a used state is not offered again");
    let state = again.split("state=").nth(1).unwrap();
    let (status, page) = get(format!(
        "{base}/connect/callback?state={state}&error=access_denied"
    ))
    .await;
    assert_eq!(status, 400);
    assert!(
        page.contains("did not grant access: access_denied"),
        "{page}"
    );

    // Nothing was stored: no grant, and carol is still asked to sign in.
    let kept = gw.kept().await;
    assert!(!kept.iter().any(|n| n.starts_with("grant\0")), "{kept:?}");
    assert_eq!(whoami(&carol).await["error"]["code"], -32042);
    assert_eq!(idp.stats().await["code_tokens"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_grant_is_refreshed_and_a_revoked_one_asks_again() {
    let idp = OAuthServer::start(&[("EXCHANGE_TTL", "2")]).await;
    let up = upstream(&idp).await;
    let gw = gateway(&idp, &up).await;
    let alice = gw.session("alice").await;
    let url = sign_in_url(&whoami(&alice).await);
    assert_eq!(idp.sign_in(&url, "alice").await.0, 200);
    assert_eq!(
        whoami(&alice).await["result"]["structuredContent"]["subject"],
        "alice"
    );
    // Past the access token's life: refreshed, the user asked nothing.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        whoami(&alice).await["result"]["structuredContent"]["subject"],
        "alice"
    );
    assert_eq!(idp.stats().await["refreshes"], 1);
    // Revoked at the server: the next time it is needed, a new sign-in.
    idp.revoke_refresh("alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let asked = whoami(&alice).await;
    assert_eq!(asked["error"]["code"], -32042, "{asked}");
    let kept = gw.kept().await;
    assert!(!kept.iter().any(|n| n.starts_with("grant\0")), "{kept:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_admins_list_and_revoke_connections_but_never_see_tokens() {
    let idp = OAuthServer::start(&[]).await;
    let up = upstream(&idp).await;
    let gw = gateway(&idp, &up).await;
    let base = gw.server.url().trim_end_matches("/mcp").to_owned();
    let http = reqwest::Client::new();
    let mine = |user: &'static str| {
        let (http, base, key) = (http.clone(), base.clone(), gw.keys[user].clone());
        async move {
            let r = http
                .get(format!("{base}/connect/connections"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    for user in ["alice", "bob"] {
        let c = gw.session(user).await;
        let url = sign_in_url(&whoami(&c).await);
        assert_eq!(idp.sign_in(&url, user).await.0, 200);
        assert_eq!(
            whoami(&c).await["result"]["structuredContent"]["subject"],
            user
        );
    }
    // Each user sees their own connection, no token.
    let (status, body) = mine("alice").await;
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        listed["connections"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    assert_eq!(listed["connections"][0]["upstream"], "web");
    assert_eq!(listed["connections"][0]["subject"], "alice");
    assert!(!body.contains("eyJ") && !body.contains("token\""), "{body}");
    let (_, carol) = mine("carol").await;
    assert_eq!(
        serde_json::from_str::<Value>(&carol).unwrap()["connections"],
        json!([])
    );
    // Without a credential: 401.
    let anonymous = http
        .get(format!("{base}/connect/connections"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The tenant's admin lists them all.
    let admin = gw.server.admin_url();
    let all: Value = http
        .get(format!("{admin}/tenants/acme/connections"))
        .bearer_auth(&gw.keys["admin"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let users: Vec<&str> = all["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["subject"].as_str())
        .collect();
    assert_eq!(users, ["alice", "bob"], "{all}");
    assert!(!all.to_string().contains("eyJ"), "{all}");

    // Alice revokes hers: her next call asks her to sign in again.
    let gone = http
        .delete(format!("{base}/connect/connections/web"))
        .bearer_auth(&gw.keys["alice"])
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let alice = gw.session("alice").await;
    assert_eq!(whoami(&alice).await["error"]["code"], -32042);
    // The admin revokes bob's.
    let gone = http
        .delete(format!("{admin}/tenants/acme/connections/web/bob"))
        .bearer_auth(&gw.keys["admin"])
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 200);
    let bob = gw.session("bob").await;
    assert_eq!(whoami(&bob).await["error"]["code"], -32042);
    let again = http
        .delete(format!("{admin}/tenants/acme/connections/web/bob"))
        .bearer_auth(&gw.keys["admin"])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
}

/// Neither endpoint configured: found in the issuer's metadata (RFC 8414),
/// or, for a public client without an issuer, through the upstream's
/// protected-resource metadata (RFC 9728).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_server_s_endpoints_are_discovered() {
    let idp = OAuthServer::start(&[]).await;
    let up = upstream(&idp).await;
    let issuer = idp.issuer();
    let by_issuer = gateway_with(&idp, &up, |auth| UpstreamAuth {
        token_endpoint: String::new(),
        authorization_endpoint: None,
        issuer: Some(issuer),
        ..auth
    })
    .await;
    let by_resource = gateway_with(&idp, &up, |auth| UpstreamAuth {
        token_endpoint: String::new(),
        authorization_endpoint: None,
        client_id: "switchboard-public".into(),
        client_secret: None,
        ..auth
    })
    .await;
    for (gw, user) in [(&by_issuer, "alice"), (&by_resource, "bob")] {
        let c = gw.session(user).await;
        let url = sign_in_url(&whoami(&c).await);
        let (status, page) = idp.sign_in(&url, user).await;
        assert_eq!(status, 200, "{page}");
        let who = whoami(&c).await;
        assert_eq!(who["result"]["structuredContent"]["subject"], user, "{who}");
    }
    assert_eq!(idp.stats().await["code_tokens"], 2);
}

/// A stateless (2026-07-28) client's sign-in is asked under an input key of
/// its own: when the first sign-in came to nothing (the server's error at
/// the callback), the retried request's answer to it is not taken for the
/// second one — that is asked in a new round, and the call goes on once
/// the user signed in there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sign_in_is_its_own_input_round() {
    let idp = OAuthServer::start(&[]).await;
    let up = upstream(&idp).await;
    let gw = gateway(&idp, &up).await;
    let base = gw.server.url().trim_end_matches("/mcp").to_owned();
    let mut alice = ModernClient::with_token(&gw.server.url(), &gw.keys["alice"]);
    alice.capabilities = json!({"elicitation": {"url": {}}});
    let params = json!({"name": "web__whoami", "arguments": {}});
    let asked = |answer: &Value| -> (String, String) {
        let r = &answer["result"];
        assert_eq!(r["resultType"], "input_required", "{answer}");
        let (key, request) = r["inputRequests"]
            .as_object()
            .unwrap()
            .iter()
            .next()
            .unwrap();
        assert_eq!(request["params"]["mode"], "url", "{answer}");
        let id = request["params"]["elicitationId"].as_str().unwrap();
        assert_eq!(key, &format!("sign-in-{id}"));
        (
            key.clone(),
            request["params"]["url"].as_str().unwrap().to_owned(),
        )
    };
    let (first, _) = alice.call("tools/call", params.clone()).await;
    let (key1, url1) = asked(&first);
    // The server answers the first sign-in with an error.
    let state = url1.split("state=").nth(1).unwrap();
    let refused = reqwest::get(format!(
        "{base}/connect/callback?state={state}&error=access_denied"
    ))
    .await
    .unwrap();
    assert_eq!(refused.status(), 400);
    // The client accepted it meanwhile, and retries: a new sign-in, asked
    // anew.
    let mut retry = params.clone();
    retry["inputResponses"] = json!({ &key1: {"action": "accept"} });
    retry["requestState"] = first["result"]["requestState"].clone();
    let (second, _) = alice.call("tools/call", retry.clone()).await;
    let (key2, url2) = asked(&second);
    assert_ne!(key2, key1);
    assert_ne!(url2, url1);
    let (status, page) = idp.sign_in(&url2, "alice").await;
    assert_eq!(status, 200, "{page}");
    retry["inputResponses"] = json!({ &key1: {"action": "accept"}, &key2: {"action": "accept"} });
    retry["requestState"] = second["result"]["requestState"].clone();
    let (done, _) = alice.call("tools/call", retry).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert_eq!(
        done["result"]["structuredContent"]["subject"], "alice",
        "{done}"
    );
}
