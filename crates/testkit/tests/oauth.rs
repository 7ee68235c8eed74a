//! Switchboard as the authorization server of its own endpoint (`[oauth]`),
//! driven over HTTP as a client and a user's browser would: a client
//! registers (RFC 7591) or is named by a metadata document, the user signs
//! in from the local user list and consents, the code is redeemed with
//! PKCE for a token bound to one resource, which `/mcp` then accepts;
//! refresh tokens rotate, and a reused one revokes its family.
//!
//! And bad input, each refused with the specified error and nothing kept:
//! open redirects, unknown clients, a metadata document at a private
//! address, oversize or slow documents, a code used twice, a verifier that
//! does not match, a token for another resource, repeated parameters.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use switchboard_oauth::{ClientConfig, OAuthConfig, UserConfig};
use switchboard_server::{AnonymousMode, Config, Secret, ServerConfig, TenantConfig};
use switchboard_store::{EntryStore, MemoryEntryStore};
use switchboard_testkit::TestServer;

const PASSWORD: &str = "correct horse battery";

/// A server with `[oauth]` on its own address: alice of tenant acme may
/// grant `tools`; a public client `app` with a loopback redirect URI; a
/// virtual server `narrow`.
async fn server(tweak: impl FnOnce(&mut OAuthConfig)) -> (TestServer, Arc<MemoryEntryStore>) {
    server_with(|_| {}, tweak).await
}

/// As [`server`], the configuration passed through `config_tweak` too.
async fn server_with(
    config_tweak: impl FnOnce(&mut Config),
    tweak: impl FnOnce(&mut OAuthConfig),
) -> (TestServer, Arc<MemoryEntryStore>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    config.tenants.push(TenantConfig {
        id: "acme".into(),
        ..TenantConfig::default()
    });
    config.servers.push(ServerConfig {
        name: "narrow".into(),
        tools: vec!["echo".into()],
        ..ServerConfig::default()
    });
    let mut oauth = OAuthConfig {
        issuer,
        clients: vec![ClientConfig {
            id: "app".into(),
            name: Some("The App".into()),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            secret_sha256: None,
        }],
        users: vec![UserConfig {
            name: "alice".into(),
            password_hash: Secret::new(switchboard_oauth::hash_password(PASSWORD).unwrap()),
            tenant: "acme".into(),
            scopes: vec!["tools".into()],
        }],
        ..OAuthConfig::default()
    };
    tweak(&mut oauth);
    config.oauth = Some(oauth);
    config_tweak(&mut config);
    config.validate().unwrap();
    let store = Arc::new(MemoryEntryStore::new());
    let oauth = switchboard_server::oauth_server(&config, store.clone(), None)
        .await
        .unwrap()
        .unwrap();
    let catalog = switchboard_everything::everything();
    let server = TestServer::on(listener, config, catalog, |b| b.oauth(oauth)).await;
    (server, store)
}

/// `authorize` with `params` in its query.
fn authorize_url(s: &TestServer, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{}/oauth/authorize", base(s))).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// `pairs` as a form body.
fn form_body(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn base(s: &TestServer) -> String {
    format!("http://{}", s.addr)
}

/// A PKCE verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn rand_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    b
}

/// The value of the hidden `txn` field of a page.
fn txn(page: &str) -> String {
    let at = page.find("name=\"txn\" value=\"").expect("a sign-in form") + 18;
    page[at..].split('"').next().unwrap().to_owned()
}

/// POST the form `pairs` to `path`.
async fn post_form(s: &TestServer, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
    http()
        .post(format!("{}{path}", base(s)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(pairs))
        .send()
        .await
        .unwrap()
}

/// The sign-in page `authorize` with `params` shows (200).
async fn open(s: &TestServer, params: &[(&str, &str)]) -> String {
    let page = http().get(authorize_url(s, params)).send().await.unwrap();
    assert_eq!(page.status(), 200, "{:?}", page.headers().get("location"));
    page.text().await.unwrap()
}

/// Sign in as alice with `password` on the sign-in `page`.
async fn login(s: &TestServer, page: &str, password: &str) -> reqwest::Response {
    let txn = txn(page);
    let form = [
        ("txn", txn.as_str()),
        ("username", "alice"),
        ("password", password),
    ];
    post_form(s, "/oauth/login", &form).await
}

/// Answer the consent `page` with `decision`: where the browser is sent.
async fn decide(s: &TestServer, page: &str, decision: &str) -> url::Url {
    let txn = txn(page);
    let back = post_form(
        s,
        "/oauth/consent",
        &[("txn", txn.as_str()), ("decision", decision)],
    )
    .await;
    assert_eq!(back.status(), 303);
    url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap()
}

/// Open `authorize` with `params`, sign in as alice and allow: the
/// redirect's URL.
async fn sign_in(s: &TestServer, params: &[(&str, &str)]) -> url::Url {
    let page = open(s, params).await;
    let consent = login(s, &page, PASSWORD).await;
    assert_eq!(consent.status(), 200);
    let consent = consent.text().await.unwrap();
    assert!(consent.contains("returning to"), "{consent}");
    decide(s, &consent, "allow").await
}

fn query(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn token(s: &TestServer, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = post_form(s, "/oauth/token", form).await;
    let status = resp.status().as_u16();
    if status == 200 {
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
    (status, resp.json().await.unwrap())
}

/// A code for client `app` (resource: the default one unless given) and
/// its verifier.
async fn code(s: &TestServer, resource: Option<&str>) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", "app"),
        ("redirect_uri", "http://127.0.0.1:9/callback"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "st-1"),
    ];
    if let Some(r) = resource {
        params.push(("resource", r));
    }
    let back = sign_in(s, &params).await;
    assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(query(&back, "iss"), Some(base(s)));
    (query(&back, "code").expect("a code"), verifier)
}

async fn redeem(s: &TestServer, code: &str, verifier: &str) -> (u16, Value) {
    token(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
        ],
    )
    .await
}

async fn refresh(s: &TestServer, token_: &str) -> (u16, Value) {
    token(
        s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "app"),
            ("refresh_token", token_),
        ],
    )
    .await
}

/// `tools/call echo` at `path` with `token`, stateless era: the status.
async fn call_echo(s: &TestServer, path: &str, token_: &str) -> (u16, String) {
    let client =
        switchboard_testkit::ModernClient::with_token(&format!("{}{path}", base(s)), token_);
    let params = json!({"name": "echo", "arguments": {"message": "hi"}});
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": client.with_meta(params.clone())});
    let resp = client
        .post("tools/call", &params)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, format!("{www} {}", resp.text().await.unwrap()))
}

#[tokio::test]
async fn sign_in_call_refresh_and_reuse() {
    let (s, _) = server(|_| {}).await;
    let meta: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            base(&s)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], base(&s));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    // The protected resource names this server.
    let prm: Value = http()
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            base(&s)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["authorization_servers"], json!([base(&s)]));
    assert_eq!(prm["resource"], format!("{}/mcp", base(&s)));

    let (c, v) = code(&s, Some(&format!("{}/mcp", base(&s)))).await;
    let (status, body) = redeem(&s, &c, &v).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "tools");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let first_refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let (status, text) = call_echo(&s, "/mcp", &access).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("hi"), "{text}");

    // Rotation: the refresh token works once and gives a new one.
    let (status, body) = refresh(&s, &first_refresh).await;
    assert_eq!(status, 200, "{body}");
    let second_refresh = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(
        call_echo(&s, "/mcp", body["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
    // Reuse of the first revokes the family: the second fails too.
    let (status, body) = refresh(&s, &first_refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = refresh(&s, &second_refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    s.stop().await;
}

#[tokio::test]
async fn dynamic_registration_then_sign_in() {
    let (s, store) = server(|_| {}).await;
    let resp = http()
        .post(format!("{}/oauth/register", base(&s)))
        .json(&json!({
            "redirect_uris": ["http://127.0.0.1:7/cb"],
            "client_name": "Registered <b>App</b>",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let reg: Value = resp.json().await.unwrap();
    let id = reg["client_id"].as_str().unwrap().to_owned();
    assert!(reg.get("client_secret").is_none());
    assert_eq!(store.names("clients").await.unwrap(), vec![id.clone()]);
    let (verifier, challenge) = pkce();
    let page = open(
        &s,
        &[
            ("response_type", "code"),
            ("client_id", id.as_str()),
            ("redirect_uri", "http://127.0.0.1:7/cb"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    // The client's name is shown escaped.
    assert!(page.contains("Registered &lt;b&gt;App&lt;/b&gt;"), "{page}");
    let consent = login(&s, &page, PASSWORD).await.text().await.unwrap();
    let back = decide(&s, &consent, "allow").await;
    let (status, body) = token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", id.as_str()),
            ("code", &query(&back, "code").unwrap()),
            ("code_verifier", verifier.as_str()),
            ("redirect_uri", "http://127.0.0.1:7/cb"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    s.stop().await;
}

#[tokio::test]
async fn wrong_password_and_denied_consent() {
    let (s, _) = server(|_| {}).await;
    let (_, challenge) = pkce();
    let page = open(
        &s,
        &[
            ("response_type", "code"),
            ("client_id", "app"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(login(&s, &page, "nope").await.status(), 401);
    // Consent before signing in is refused.
    let t = txn(&page);
    let early = post_form(
        &s,
        "/oauth/consent",
        &[("txn", t.as_str()), ("decision", "allow")],
    )
    .await;
    assert_eq!(early.status(), 400);
    let consent = login(&s, &page, PASSWORD).await.text().await.unwrap();
    let back = decide(&s, &consent, "deny").await;
    // A password guesser gets ten tries per name, then waits.
    let page = open(
        &s,
        &[
            ("response_type", "code"),
            ("client_id", "app"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(login(&s, &page, "guess").await.status().as_u16());
    }
    // Two were alice's own attempts above.
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        8,
        "{statuses:?}"
    );
    let last = login(&s, &page, PASSWORD).await;
    assert_eq!(last.status(), 429);
    assert!(
        last.text()
            .await
            .unwrap()
            .contains("too many sign-in attempts")
    );
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert!(query(&back, "code").is_none());
    s.stop().await;
}

/// GET `authorize` with `params`: the status, `Location` and body.
async fn authorize(s: &TestServer, params: &[(&str, &str)]) -> (u16, Option<String>, String) {
    let resp = http().get(authorize_url(s, params)).send().await.unwrap();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location, resp.text().await.unwrap())
}

#[tokio::test]
async fn authorization_requests_refused() {
    let (s, store) = server(|o| {
        o.client_metadata.timeout_ms = 500;
    })
    .await;
    let (_, ch) = pkce();
    let good = |extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", "app".into()),
            ("redirect_uri", "http://127.0.0.1:9/callback".into()),
            ("code_challenge", ch.clone()),
            ("code_challenge_method", "S256".into()),
        ];
        for (k, v) in extra {
            p.retain(|(pk, _)| pk != k);
            if !v.is_empty() {
                p.push((k, (*v).to_owned()));
            }
        }
        p
    };
    let run = |p: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
            authorize(s, &p).await
        }
    };
    // Refused on a page, never redirected: open redirects and unknown
    // clients.
    for (extra, why) in [
        (
            vec![("redirect_uri", "https://evil.example.com/cb")],
            "redirect_uri",
        ),
        (vec![("client_id", "nobody")], "unknown client"),
        (
            vec![("client_id", "https://127.0.0.1:1/client.json")],
            "private",
        ),
        (
            vec![("client_id", "https://10.0.0.1/client.json")],
            "private",
        ),
    ] {
        let (status, location, body) = run(good(&extra)).await;
        assert_eq!((status, location), (400, None), "{extra:?}: {body}");
        assert!(body.contains(why), "{extra:?}: {body}");
    }
    // A repeated parameter.
    let mut twice = good(&[]);
    twice.push(("client_id", "app".into()));
    let (status, location, _) = run(twice).await;
    assert_eq!((status, location), (400, None));
    // Refused back to the client: the error, the state and the issuer.
    for (extra, error) in [
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            vec![("resource", "https://elsewhere.example.com/mcp")],
            "invalid_target",
        ),
    ] {
        let mut p = good(&extra);
        p.push(("state", "s1".into()));
        let (status, location, _) = run(p).await;
        assert_eq!(status, 303, "{extra:?}");
        let to = url::Url::parse(&location.unwrap()).unwrap();
        assert_eq!(to.host_str(), Some("127.0.0.1"));
        assert_eq!(query(&to, "error").as_deref(), Some(error), "{extra:?}");
        assert_eq!(query(&to, "state").as_deref(), Some("s1"));
        assert_eq!(query(&to, "iss"), Some(base(&s)));
    }
    // Nothing was kept for any of them.
    assert!(store.names("pending").await.unwrap().is_empty());
    s.stop().await;
}

/// A server of metadata documents on loopback: `/big.json` is over the
/// limit, `/slow.json` never answers in time, `/app.json` is good.
async fn documents() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let good = json!({
        "client_id": format!("{base}/app.json"),
        "client_name": "Doc App",
        "redirect_uris": ["http://127.0.0.1:9/callback"],
        "token_endpoint_auth_method": "none",
    })
    .to_string();
    let big = json!({
        "client_id": format!("{base}/big.json"),
        "redirect_uris": ["http://127.0.0.1:9/callback"],
        "padding": "x".repeat(10_000),
    })
    .to_string();
    let app = axum::Router::new()
        .route("/app.json", axum::routing::get(move || async move { good }))
        .route("/big.json", axum::routing::get(move || async move { big }))
        .route(
            "/slow.json",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "{}"
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn client_metadata_documents() {
    let docs = documents().await;
    let (s, store) = server(|o| {
        o.client_metadata.allow_private = true;
        o.client_metadata.allow_http = true;
        o.client_metadata.timeout_ms = 500;
    })
    .await;
    let (_, ch) = pkce();
    for (doc, why) in [
        ("big.json", "answered more than"),
        ("slow.json", "timed out"),
    ] {
        let id = format!("{docs}/{doc}");
        let (status, location, body) = authorize(
            &s,
            &[
                ("response_type", "code"),
                ("client_id", &id),
                ("redirect_uri", "http://127.0.0.1:9/callback"),
                ("code_challenge", &ch),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
        assert_eq!((status, location), (400, None), "{doc}: {body}");
        assert!(body.contains(why), "{doc}: {body}");
    }
    assert!(store.names("pending").await.unwrap().is_empty());
    // A good document names the client on the sign-in page.
    let id = format!("{docs}/app.json");
    let (status, _, body) = authorize(
        &s,
        &[
            ("response_type", "code"),
            ("client_id", &id),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Doc App"));
    s.stop().await;
}

#[tokio::test]
async fn codes_and_tokens_misused() {
    let (s, _) = server(|_| {}).await;
    // A verifier that does not match.
    let (c, _) = code(&s, None).await;
    let (wrong, _) = pkce();
    let (status, body) = redeem(&s, &c, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    // A code used twice: the second use fails and revokes the first's
    // refresh token.
    let (c, v) = code(&s, None).await;
    let (status, first) = redeem(&s, &c, &v).await;
    assert_eq!(status, 200);
    let (status, body) = redeem(&s, &c, &v).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = refresh(&s, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400);

    // Another client cannot redeem app's code.
    let (c, v) = code(&s, None).await;
    let (status, body) = token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "nobody"),
            ("code", &c),
            ("code_verifier", &v),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // A token for the virtual server `narrow` is refused at `/mcp`, and
    // the other way round.
    let narrow = format!("{}/mcp/narrow", base(&s));
    let (c, v) = code(&s, Some(&narrow)).await;
    let (status, body) = redeem(&s, &c, &v).await;
    assert_eq!(status, 200, "{body}");
    let for_narrow = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(call_echo(&s, "/mcp/narrow", &for_narrow).await.0, 200);
    let (status, text) = call_echo(&s, "/mcp", &for_narrow).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("invalid_token"), "{text}");
    // Asking the token endpoint for another resource than the code's.
    let (c, v) = code(&s, None).await;
    let (status, body) = token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", &c),
            ("code_verifier", &v),
            ("resource", &narrow),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    // Grant types and bodies.
    let (status, body) = token(&s, &[("grant_type", "password"), ("client_id", "app")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let resp = http()
        .post(format!("{}/oauth/token", base(&s)))
        .json(&json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    s.stop().await;
}

#[tokio::test]
async fn registration_refusals() {
    let (s, store) = server(|_| {}).await;
    for (body, error) in [
        (
            json!({"redirect_uris": ["http://evil.example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (json!({}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["https://a.example.com/cb"], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
    ] {
        let resp = http()
            .post(format!("{}/oauth/register", base(&s)))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let got: Value = resp.json().await.unwrap();
        assert_eq!(got["error"], error, "{body}");
    }
    assert!(store.names("clients").await.unwrap().is_empty());
    s.stop().await;
    let (s, _) = server(|o| o.registration = switchboard_oauth::Registration::Off).await;
    let resp = http()
        .post(format!("{}/oauth/register", base(&s)))
        .json(&json!({"redirect_uris": ["https://a.example.com/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    s.stop().await;
}

/// A client's DPoP key: signs proofs, its public JWK in their header.
struct DpopKey {
    encoding: jsonwebtoken::EncodingKey,
    jwk: Value,
}

fn dpop_key() -> DpopKey {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::EncodePrivateKey;
    let secret = loop {
        if let Ok(k) = p256::SecretKey::from_slice(&rand_bytes()) {
            break k;
        }
    };
    let point = secret.public_key().to_encoded_point(false);
    DpopKey {
        encoding: jsonwebtoken::EncodingKey::from_ec_der(secret.to_pkcs8_der().unwrap().as_bytes()),
        jwk: json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point.x().unwrap()[..]),
            "y": URL_SAFE_NO_PAD.encode(&point.y().unwrap()[..]),
        }),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What a proof says; `Proof::for_(…)` is a good one.
#[derive(Clone)]
struct Proof {
    htm: String,
    htu: String,
    iat: u64,
    jti: String,
    ath: Option<String>,
    nonce: Option<String>,
    typ: &'static str,
}

impl Proof {
    fn for_(htm: &str, htu: &str, token_: Option<&str>) -> Self {
        Self {
            htm: htm.into(),
            htu: htu.into(),
            iat: now(),
            jti: URL_SAFE_NO_PAD.encode(rand_bytes()),
            ath: token_.map(|t| URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes()))),
            nonce: None,
            typ: "dpop+jwt",
        }
    }

    fn sign(&self, key: &DpopKey) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some(self.typ.into());
        header.jwk = Some(serde_json::from_value(key.jwk.clone()).unwrap());
        let mut claims =
            json!({"htm": self.htm, "htu": self.htu, "iat": self.iat, "jti": self.jti});
        if let Some(a) = &self.ath {
            claims["ath"] = json!(a);
        }
        if let Some(n) = &self.nonce {
            claims["nonce"] = json!(n);
        }
        jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
    }
}

/// Redeem a fresh code with a DPoP proof by `key`.
async fn dpop_token(s: &TestServer, key: &DpopKey, nonce: Option<&str>) -> reqwest::Response {
    let (c, v) = code(s, None).await;
    let mut proof = Proof::for_("POST", &format!("{}/oauth/token", base(s)), None);
    proof.nonce = nonce.map(str::to_owned);
    http()
        .post(format!("{}/oauth/token", base(s)))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("dpop", proof.sign(key))
        .body(form_body(&[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", &c),
            ("code_verifier", &v),
        ]))
        .send()
        .await
        .unwrap()
}

/// `tools/call echo` at `/mcp` with `Authorization: DPoP` and `proof`
/// (none: no DPoP header): the status and the `WWW-Authenticate` header.
async fn dpop_call(s: &TestServer, token_: &str, proof: Option<String>) -> (u16, String) {
    let url = format!("{}/mcp", base(s));
    let client = switchboard_testkit::ModernClient::new(&url);
    let params = json!({"name": "echo", "arguments": {"message": "hi"}});
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": client.with_meta(params.clone())});
    let mut rb = client
        .post("tools/call", &params)
        .header("authorization", format!("DPoP {token_}"))
        .json(&body);
    if let Some(p) = proof {
        rb = rb.header("dpop", p);
    }
    let resp = rb.send().await.unwrap();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (resp.status().as_u16(), www)
}

#[tokio::test]
async fn dpop_bound_tokens_and_refused_proofs() {
    let (s, _) = server(|_| {}).await;
    let key = dpop_key();
    let resp = dpop_token(&s, &key, None).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let mcp = format!("{}/mcp", base(&s));
    let good = Proof::for_("POST", &mcp, Some(&access));
    assert_eq!(dpop_call(&s, &access, Some(good.sign(&key))).await.0, 200);

    // Each bad proof: 401, `WWW-Authenticate: DPoP error="invalid_dpop_proof"`.
    let other = dpop_key();
    let fresh = || Proof::for_("POST", &mcp, Some(&access));
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong method",
            Proof {
                htm: "GET".into(),
                ..fresh()
            }
            .sign(&key),
        ),
        (
            "wrong URL",
            Proof {
                htu: format!("{}/other", base(&s)),
                ..fresh()
            }
            .sign(&key),
        ),
        ("replayed jti", good.sign(&key)),
        (
            "stale iat",
            Proof {
                iat: now() - 3600,
                ..fresh()
            }
            .sign(&key),
        ),
        (
            "future iat",
            Proof {
                iat: now() + 3600,
                ..fresh()
            }
            .sign(&key),
        ),
        ("wrong key", fresh().sign(&other)),
        (
            "no ath",
            Proof {
                ath: None,
                ..fresh()
            }
            .sign(&key),
        ),
        (
            "wrong typ",
            Proof {
                typ: "JWT",
                ..fresh()
            }
            .sign(&key),
        ),
        ("not a JWT", "not-a-proof".into()),
    ];
    for (case, proof) in cases {
        let (status, www) = dpop_call(&s, &access, Some(proof)).await;
        assert_eq!(status, 401, "{case}");
        assert!(
            www.starts_with("DPoP ") && www.contains("error=\"invalid_dpop_proof\""),
            "{case}: {www}"
        );
    }
    let (status, www) = dpop_call(&s, &access, None).await;
    assert_eq!(status, 401);
    assert!(www.contains("invalid_dpop_proof"), "{www}");
    // The bound token as a bearer token is refused.
    let (status, text) = call_echo(&s, "/mcp", &access).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("invalid_token"), "{text}");
    // A public client's refresh token is bound to its key too.
    let refresh_token = body["refresh_token"].as_str().unwrap();
    let (status, got) = refresh(&s, refresh_token).await;
    assert_eq!(
        (status, got["error"].as_str()),
        (400, Some("invalid_grant")),
        "{got}"
    );
    // A proof at the token endpoint for another URL.
    let (c, v) = code(&s, None).await;
    let resp = http()
        .post(format!("{}/oauth/token", base(&s)))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("dpop", Proof::for_("POST", &mcp, None).sign(&key))
        .body(form_body(&[
            ("grant_type", "authorization_code"),
            ("client_id", "app"),
            ("code", &c),
            ("code_verifier", &v),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let got: Value = resp.json().await.unwrap();
    assert_eq!(got["error"], "invalid_dpop_proof");
    s.stop().await;
}

#[tokio::test]
async fn dpop_nonces_and_tenants_that_require_dpop() {
    let (s, _) = server(|o| o.dpop_nonce = true).await;
    let key = dpop_key();
    // Missing nonce at the token endpoint: `use_dpop_nonce` and a nonce.
    let resp = dpop_token(&s, &key, None).await;
    assert_eq!(resp.status(), 400);
    let nonce = resp.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let got: Value = resp.json().await.unwrap();
    assert_eq!(got["error"], "use_dpop_nonce");
    let resp = dpop_token(&s, &key, Some("made-up")).await;
    assert_eq!(resp.status(), 400);
    let resp = dpop_token(&s, &key, Some(&nonce)).await;
    assert_eq!(resp.status(), 200);
    let access = resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Missing nonce at the resource: 401 use_dpop_nonce with a nonce.
    let mcp = format!("{}/mcp", base(&s));
    let (status, www) = dpop_call(
        &s,
        &access,
        Some(Proof::for_("POST", &mcp, Some(&access)).sign(&key)),
    )
    .await;
    assert_eq!(status, 401);
    assert!(www.contains("use_dpop_nonce"), "{www}");
    let with_nonce = Proof {
        nonce: Some(nonce),
        ..Proof::for_("POST", &mcp, Some(&access))
    };
    assert_eq!(
        dpop_call(&s, &access, Some(with_nonce.sign(&key))).await.0,
        200
    );
    s.stop().await;

    // A tenant that requires DPoP refuses a bearer token of its users.
    let (s, _) = server_with(|c| c.tenants[0].require_dpop = true, |_| {}).await;
    let (c, v) = code(&s, None).await;
    let (status, body) = redeem(&s, &c, &v).await;
    assert_eq!(status, 200);
    let (status, text) = call_echo(&s, "/mcp", body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401);
    assert!(text.contains("only DPoP-bound"), "{text}");
    let resp = dpop_token(&s, &key, None).await;
    let access = resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mcp = format!("{}/mcp", base(&s));
    let proof = Proof::for_("POST", &mcp, Some(&access)).sign(&key);
    assert_eq!(dpop_call(&s, &access, Some(proof)).await.0, 200);
    s.stop().await;
}
