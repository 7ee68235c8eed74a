//! Switchboard as an MCP OAuth client toward an upstream that names its own
//! authorization server (`[upstreams.auth] grant = "authorization_code"`,
//! nothing but a redirect URI configured), against a mock resource server
//! and a mock authorization server whose every request is recorded:
//!
//! - discovery: the `resource_metadata` and `scope` of the 401's
//!   `WWW-Authenticate` (RFC 9728 §5.1), else the path-based then the root
//!   well-known protected-resource metadata; the authorization server's
//!   metadata at RFC 8414's and OpenID Connect's locations in MCP's order;
//! - client identification: dynamic registration (RFC 7591, once per
//!   server, with the token endpoint authentication the server offers), a
//!   Client ID Metadata Document's URL, a pre-registered client's secret
//!   in the form where only `client_secret_post` is offered;
//! - what is asked: PKCE S256, the metadata's `resource` (RFC 8707) at
//!   both endpoints, scopes from the challenge, else `scopes_supported`,
//!   `offline_access` where the server lists it;
//! - refusals: a resource metadata for another resource, server metadata
//!   naming another issuer (RFC 8414 §3.3), an authorization response's
//!   `iss` that is wrong, missing though advertised, or equal only after
//!   normalization (RFC 9207);
//! - the upstream refusing a token: 403 `insufficient_scope` steps the
//!   scopes up to the union, never for scopes the grant has, at most
//!   twice; 401 finds the server again, and a new server gets a new
//!   registration (SEP-2352);
//! - end to end through the gateway and its connect pages, the upstream a
//!   Switchboard publishing its own protected-resource metadata; and the
//!   Client ID Metadata Document the connect pages serve.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_identity::connect::{self, CallbackError};
use switchboard_identity::{Grant, Identity, IdentityError, UpstreamAuth, Vault, VaultKey, Who};
use switchboard_runtime::CatalogBuilder;
use switchboard_server::{AnonymousMode, Config, TenantConfig};
use switchboard_store::MemoryEntryStore;
use switchboard_testkit::{McpClient, TestServer};
use switchboard_upstream::gateway::{
    PoolMode, StdioProvider, UpstreamConfig, UpstreamKind, UpstreamsShared,
};

type Params = HashMap<String, String>;

fn params(query: &str) -> Params {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn json_reply(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Where the mock authorization server publishes its metadata.
#[derive(Clone, Copy, PartialEq)]
enum Meta {
    /// RFC 8414: `/.well-known/oauth-authorization-server{path}`.
    OAuth,
    /// OpenID Connect, path appended: `{path}/.well-known/openid-configuration`.
    OpenIdAppended,
}

/// The `iss` its authorization responses carry.
#[derive(Clone, Copy, PartialEq)]
enum Iss {
    Correct,
    Wrong,
    Omitted,
    TrailingSlash,
}

#[derive(Clone)]
struct AsConfig {
    /// The issuer's path (`""` or `/tenant1`).
    path: &'static str,
    meta: Meta,
    /// An `issuer` in the metadata other than its own.
    issuer: Option<&'static str>,
    iss: Iss,
    iss_supported: Option<bool>,
    methods: Vec<&'static str>,
    registration: bool,
    cimd: bool,
    scopes_supported: Option<Vec<&'static str>>,
    /// Mint HS256 JWTs for tenant acme with this secret (else opaque
    /// tokens).
    hs256: Option<&'static str>,
    /// Offer DPoP (ES256): a token request with a proof gets a DPoP token.
    dpop: bool,
    /// With `dpop`: a proof without this nonce is answered
    /// `use_dpop_nonce` with it.
    dpop_nonce: Option<&'static str>,
    /// The access tokens' lifetime.
    expires_in: u64,
}

impl Default for AsConfig {
    fn default() -> Self {
        Self {
            path: "",
            meta: Meta::OAuth,
            issuer: None,
            iss: Iss::Correct,
            iss_supported: Some(true),
            methods: vec!["client_secret_basic"],
            registration: true,
            cimd: false,
            scopes_supported: None,
            hs256: None,
            dpop: false,
            dpop_nonce: None,
            expires_in: 3600,
        }
    }
}

#[derive(Default)]
struct AsLog {
    gets: Vec<String>,
    authorize: Vec<Params>,
    /// Each token request's form and `Authorization` header.
    token: Vec<(Params, Option<String>)>,
    /// Each token request's DPoP proof, if any.
    proofs: Vec<Option<String>>,
    register: Vec<Value>,
}

/// A mock authorization server.
struct MockAs {
    base: String,
    config: AsConfig,
    log: std::sync::Mutex<AsLog>,
    n: AtomicUsize,
}

impl MockAs {
    async fn start(config: AsConfig) -> Arc<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let mock = Arc::new(Self {
            base,
            config,
            log: std::sync::Mutex::default(),
            n: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .fallback(as_handler)
            .with_state(mock.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        mock
    }

    fn issuer(&self) -> String {
        format!("{}{}", self.base, self.config.path)
    }

    fn log(&self) -> std::sync::MutexGuard<'_, AsLog> {
        self.log.lock().unwrap()
    }
}

async fn as_handler(State(mock): State<Arc<MockAs>>, request: Request) -> Response {
    let c = &mock.config;
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let method = request.method().clone();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let proof = request
        .headers()
        .get("dpop")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap();
    let n = mock.n.fetch_add(1, Ordering::Relaxed);
    let p = c.path;
    let metadata_path = match c.meta {
        Meta::OAuth => format!("/.well-known/oauth-authorization-server{p}"),
        Meta::OpenIdAppended => format!("{p}/.well-known/openid-configuration"),
    };
    if method == "GET" {
        mock.log().gets.push(path.clone());
    }
    match (method.as_str(), path.as_str()) {
        ("GET", x) if x == metadata_path => {
            let base = &mock.base;
            let mut doc = json!({
                "issuer": c.issuer.map_or_else(|| mock.issuer(), str::to_owned),
                "authorization_endpoint": format!("{base}{p}/authorize"),
                "token_endpoint": format!("{base}{p}/token"),
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": c.methods,
            });
            if c.registration {
                doc["registration_endpoint"] = json!(format!("{base}{p}/register"));
            }
            if let Some(iss) = c.iss_supported {
                doc["authorization_response_iss_parameter_supported"] = json!(iss);
            }
            if c.cimd {
                doc["client_id_metadata_document_supported"] = json!(true);
            }
            if let Some(scopes) = &c.scopes_supported {
                doc["scopes_supported"] = json!(scopes);
            }
            if c.dpop {
                doc["dpop_signing_alg_values_supported"] = json!(["ES256"]);
            }
            json_reply(StatusCode::OK, &doc)
        }
        ("GET", x) if x == format!("{p}/authorize") => {
            let q = params(&query);
            mock.log().authorize.push(q.clone());
            let mut to = url::Url::parse(&q["redirect_uri"]).unwrap();
            to.query_pairs_mut()
                .append_pair("code", &format!("code-{n}"))
                .append_pair("state", &q["state"]);
            let issuer = mock.issuer();
            match c.iss {
                Iss::Correct => {
                    to.query_pairs_mut().append_pair("iss", &issuer);
                }
                Iss::Wrong => {
                    to.query_pairs_mut()
                        .append_pair("iss", "https://evil.example.com");
                }
                Iss::TrailingSlash => {
                    to.query_pairs_mut()
                        .append_pair("iss", &format!("{issuer}/"));
                }
                Iss::Omitted => {}
            }
            (StatusCode::FOUND, [("location", to.to_string())]).into_response()
        }
        ("POST", x) if x == format!("{p}/token") => {
            let form = params(&String::from_utf8_lossy(&body));
            mock.log().token.push((form.clone(), authorization));
            mock.log().proofs.push(proof.clone());
            let nonce = proof.as_deref().map(|p| jwt_part(p, 1)["nonce"].clone());
            if let (true, Some(wanted), Some(nonce)) = (c.dpop, c.dpop_nonce, &nonce)
                && nonce != wanted
            {
                let mut refused = json_reply(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": "use_dpop_nonce", "error_description": "a nonce"}),
                );
                refused
                    .headers_mut()
                    .insert("dpop-nonce", wanted.parse().unwrap());
                return refused;
            }
            let scope = mock
                .log()
                .authorize
                .last()
                .and_then(|q| q.get("scope").cloned());
            let token = match c.hs256 {
                Some(secret) => switchboard_auth::testing::sign_hs256(
                    secret.as_bytes(),
                    &switchboard_auth::testing::claims(
                        &mock.issuer(),
                        form.get("resource").map_or("", String::as_str),
                        "acme",
                        "as-user",
                    ),
                ),
                None => format!("token-{n}"),
            };
            let bound = c.dpop && proof.is_some();
            let mut answer = json!({
                "access_token": token,
                "token_type": if bound { "DPoP" } else { "Bearer" },
                "expires_in": c.expires_in,
                "refresh_token": format!("refresh-{n}"),
            });
            if let Some(scope) = scope {
                answer["scope"] = json!(scope);
            }
            json_reply(StatusCode::OK, &answer)
        }
        ("POST", x) if c.registration && x == format!("{p}/register") => {
            let asked: Value = serde_json::from_slice(&body).unwrap();
            mock.log().register.push(asked.clone());
            let method = asked["token_endpoint_auth_method"]
                .as_str()
                .unwrap_or("client_secret_basic")
                .to_owned();
            let mut answer = json!({
                // Each server's own: its port in it.
                "client_id": format!("client-{}-{n}", mock.base.rsplit(':').next().unwrap_or("")),
                "redirect_uris": asked["redirect_uris"],
                "token_endpoint_auth_method": method,
            });
            if method != "none" {
                answer["client_secret"] = json!(format!("secret-{n}"));
            }
            json_reply(StatusCode::CREATED, &answer)
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Clone)]
struct RsConfig {
    /// Where its protected-resource metadata is.
    prm_path: &'static str,
    /// Named in its 401's `WWW-Authenticate`.
    in_challenge: bool,
    challenge_scope: Option<&'static str>,
    /// A `resource` other than its own.
    resource: Option<&'static str>,
    scopes_supported: Option<Vec<&'static str>>,
}

impl Default for RsConfig {
    fn default() -> Self {
        Self {
            prm_path: "/.well-known/oauth-protected-resource/mcp",
            in_challenge: true,
            challenge_scope: None,
            resource: None,
            scopes_supported: None,
        }
    }
}

/// A mock MCP server that refuses every request without credentials, and
/// publishes its protected-resource metadata.
struct MockRs {
    base: std::sync::Mutex<String>,
    config: RsConfig,
    /// The authorization server its metadata names (changed to move it).
    authorization_server: std::sync::Mutex<String>,
    gets: std::sync::Mutex<Vec<String>>,
}

impl MockRs {
    async fn start(config: RsConfig, authorization_server: &str) -> Arc<Self> {
        let mock = Arc::new(Self {
            base: std::sync::Mutex::default(),
            config,
            authorization_server: std::sync::Mutex::new(authorization_server.to_owned()),
            gets: std::sync::Mutex::default(),
        });
        let app = axum::Router::new()
            .fallback(rs_handler)
            .with_state(mock.clone());
        *mock.base.lock().unwrap() = serve(app).await;
        mock
    }

    fn base(&self) -> String {
        self.base.lock().unwrap().clone()
    }

    fn url(&self) -> String {
        format!("{}/mcp", self.base())
    }
}

async fn rs_handler(State(mock): State<Arc<MockRs>>, request: Request<Body>) -> Response {
    let c = &mock.config;
    let base = mock.base();
    let path = request.uri().path().to_owned();
    match (request.method().as_str(), path.as_str()) {
        ("POST", "/mcp") => {
            let mut challenge = vec![r#"error="invalid_token""#.to_owned()];
            if let Some(scope) = c.challenge_scope {
                challenge.push(format!(r#"scope="{scope}""#));
            }
            if c.in_challenge {
                challenge.push(format!(r#"resource_metadata="{base}{}""#, c.prm_path));
            }
            let header = format!("Bearer {}", challenge.join(", "));
            (StatusCode::UNAUTHORIZED, [("www-authenticate", header)]).into_response()
        }
        ("GET", x) => {
            mock.gets.lock().unwrap().push(x.to_owned());
            if x != c.prm_path {
                return StatusCode::NOT_FOUND.into_response();
            }
            let own = if x == "/.well-known/oauth-protected-resource" {
                base.clone()
            } else {
                format!("{base}/mcp")
            };
            let mut doc = json!({
                "resource": c.resource.map_or(own, str::to_owned),
                "authorization_servers": [mock.authorization_server.lock().unwrap().clone()],
            });
            if let Some(scopes) = &c.scopes_supported {
                doc["scopes_supported"] = json!(scopes);
            }
            json_reply(StatusCode::OK, &doc)
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// An upstream's identity (its tokens had through the vault), signing its
/// users in as their browsers would — without the connect pages: the
/// authorization URL they send to, followed to the server, its answer
/// brought to the callback's `finish`.
struct Harness {
    identity: Identity,
    vault: Arc<Vault>,
    auth: UpstreamAuth,
}

const CALLBACK: &str = "http://127.0.0.1:9/connect/callback";

impl Harness {
    fn new(rs: &MockRs, tweak: impl FnOnce(UpstreamAuth) -> UpstreamAuth) -> Self {
        let auth = tweak(UpstreamAuth {
            grant: Grant::AuthorizationCode,
            redirect_uri: Some(CALLBACK.into()),
            ..UpstreamAuth::default()
        });
        auth.validate().expect("a valid [upstreams.auth]");
        let key = VaultKey {
            id: "k1".into(),
            key: [7; 32],
        };
        let vault = Arc::new(Vault::new(Arc::new(MemoryEntryStore::new()), &[key]).unwrap());
        let identity = Identity::new("web", auth.clone())
            .for_url(&rs.url())
            .with_vault(Some(vault.clone()), "");
        Self {
            identity,
            vault,
            auth,
        }
    }

    fn who(user: &str) -> Who<'_> {
        Who {
            tenant: "acme",
            subject: user,
            token: None,
        }
    }

    async fn bearer(&self, user: &str) -> Result<String, IdentityError> {
        let (token, _) = self.identity.bearer(Self::who(user)).await?;
        Ok(token.token.expose().to_owned())
    }

    /// The sign-in `asked` names, at the authorization server and back at
    /// the callback.
    async fn complete(&self, asked: IdentityError) -> Result<(), CallbackError> {
        let IdentityError::SignInRequired { url, .. } = asked else {
            panic!("not asked to sign in: {asked}");
        };
        let state = url.split("state=").nth(1).expect("a state").to_owned();
        let pending = connect::pending(&self.vault, &state)
            .await
            .expect("the sign-in is pending");
        let to = connect::authorize_url(&self.auth, &state, &pending);
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let answer = browser.get(&to).send().await.unwrap();
        assert_eq!(answer.status(), 302, "{to}");
        let back = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(back.starts_with(CALLBACK), "{back}");
        let q = params(back.split_once('?').map_or("", |(_, q)| q));
        let get = |k: &str| q.get(k).map(String::as_str);
        assert_eq!(get("state"), Some(state.as_str()));
        let response = connect::Response {
            code: get("code"),
            error: get("error"),
            iss: get("iss"),
        };
        connect::finish(&self.vault, |_| Some(self.auth.clone()), &state, response)
            .await
            .map(|_| ())
    }

    /// `user` signs in; their token.
    async fn sign_in(&self, user: &str) -> String {
        let asked = self.bearer(user).await.expect_err("no grant yet");
        self.complete(asked).await.expect("signed in");
        self.bearer(user).await.expect("a token")
    }
}

/// A JWT's header (0) or claims (1), unverified.
fn jwt_part(jwt: &str, i: usize) -> Value {
    let part = jwt.split('.').nth(i).unwrap_or_default();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, part)
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

fn unavailable(e: &IdentityError) -> &str {
    match e {
        IdentityError::Unavailable { reason, .. } => reason,
        other => panic!("not unavailable: {other}"),
    }
}

/// The `WWW-Authenticate` of a 401 names the metadata at a custom
/// location and the scope; the server, whose issuer has a path, publishes
/// its metadata only at OpenID Connect's appended location; Switchboard
/// registers once, authenticates with HTTP Basic as offered, and sends
/// PKCE, the resource and the challenge's scope.
#[tokio::test]
async fn discovered_from_the_challenge_registered_once_and_signed_in() {
    let auth_server = MockAs::start(AsConfig {
        path: "/tenant1",
        meta: Meta::OpenIdAppended,
        ..AsConfig::default()
    })
    .await;
    let rs = MockRs::start(
        RsConfig {
            prm_path: "/custom/metadata.json",
            challenge_scope: Some("mcp:basic"),
            scopes_supported: Some(vec!["mcp:other"]),
            ..RsConfig::default()
        },
        &auth_server.issuer(),
    )
    .await;
    let h = Harness::new(&rs, |a| a);
    let token = h.sign_in("alice").await;
    assert!(token.starts_with("token-"), "{token}");
    assert_eq!(h.sign_in("bob").await.len(), token.len());

    assert_eq!(*rs.gets.lock().unwrap(), ["/custom/metadata.json"]);
    let log = auth_server.log();
    assert_eq!(
        log.gets[..3],
        [
            "/.well-known/oauth-authorization-server/tenant1",
            "/.well-known/openid-configuration/tenant1",
            "/tenant1/.well-known/openid-configuration",
        ],
        "MCP's order, found at the third"
    );
    assert_eq!(log.register.len(), 1, "one registration for both users");
    let asked = &log.register[0];
    assert_eq!(asked["redirect_uris"], json!([CALLBACK]));
    assert_eq!(asked["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(asked["application_type"], "native");
    assert_eq!(
        asked["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    let q = &log.authorize[0];
    let client_id = q["client_id"].clone();
    assert!(client_id.starts_with("client-"), "{q:?}");
    assert_eq!(q["scope"], "mcp:basic", "the challenge's scope");
    assert_eq!(q["resource"], rs.url());
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], CALLBACK);
    let (form, authorization) = &log.token[0];
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["resource"], rs.url());
    assert!(form.contains_key("code_verifier"));
    assert!(!form.contains_key("client_secret"));
    let basic = authorization.as_deref().expect("HTTP Basic");
    let decoded = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            basic.strip_prefix("Basic ").unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        decoded.starts_with(&format!("{client_id}:secret-")),
        "{decoded}"
    );
}

/// No metadata in the challenge and none at the path-based location: the
/// root one (its resource the origin, sent as it is); scopes from its
/// `scopes_supported`, and `offline_access` the server lists; a server
/// taking Client ID Metadata Documents gets the configured URL as the
/// client id (a public client), and no registration.
#[tokio::test]
async fn root_metadata_scopes_supported_offline_access_and_a_metadata_document() {
    let auth_server = MockAs::start(AsConfig {
        cimd: true,
        methods: vec!["none"],
        scopes_supported: Some(vec!["mcp:read", "mcp:write", "offline_access"]),
        ..AsConfig::default()
    })
    .await;
    let rs = MockRs::start(
        RsConfig {
            prm_path: "/.well-known/oauth-protected-resource",
            in_challenge: false,
            scopes_supported: Some(vec!["mcp:read", "mcp:write"]),
            ..RsConfig::default()
        },
        &auth_server.issuer(),
    )
    .await;
    let cimd = "https://sb.example.com/connect/client-metadata.json";
    let h = Harness::new(&rs, |a| UpstreamAuth {
        client_metadata_url: Some(cimd.into()),
        ..a
    });
    h.sign_in("alice").await;
    assert_eq!(
        *rs.gets.lock().unwrap(),
        [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource",
        ]
    );
    let log = auth_server.log();
    assert!(log.register.is_empty(), "{:?}", log.register);
    let q = &log.authorize[0];
    assert_eq!(q["client_id"], cimd);
    assert_eq!(q["scope"], "mcp:read mcp:write offline_access");
    assert_eq!(q["resource"], rs.base(), "exactly as the metadata says");
    let (form, authorization) = &log.token[0];
    assert_eq!(form["client_id"], cimd);
    assert_eq!(authorization, &None);
}

/// A client registered in advance, its server not named: with
/// `trust_upstream_issuer` its secret goes to the server the upstream
/// names, in the form where that server offers only `client_secret_post`;
/// no scope where neither the challenge nor the metadata names one.
#[tokio::test]
async fn a_pre_registered_secret_goes_in_the_form_where_only_post_is_offered() {
    let auth_server = MockAs::start(AsConfig {
        methods: vec!["client_secret_post"],
        registration: false,
        ..AsConfig::default()
    })
    .await;
    let rs = MockRs::start(RsConfig::default(), &auth_server.issuer()).await;
    let h = Harness::new(&rs, |a| UpstreamAuth {
        client_id: "pre-registered".into(),
        client_secret: Some("pre-secret".into()),
        trust_upstream_issuer: true,
        ..a
    });
    h.sign_in("alice").await;
    let log = auth_server.log();
    assert!(
        !log.authorize[0].contains_key("scope"),
        "{:?}",
        log.authorize
    );
    let (form, authorization) = &log.token[0];
    assert_eq!(form["client_id"], "pre-registered");
    assert_eq!(form["client_secret"], "pre-secret");
    assert_eq!(authorization, &None);
}

/// What is refused before a token is asked for: metadata of another
/// resource, server metadata naming another issuer, and authorization
/// responses whose `iss` is wrong, missing though advertised, or the
/// issuer with a `/` added. An `iss` neither sent nor advertised is fine.
#[tokio::test]
async fn mismatched_resources_issuers_and_iss_are_refused() {
    // Another resource.
    let auth_server = MockAs::start(AsConfig::default()).await;
    let rs = MockRs::start(
        RsConfig {
            resource: Some("https://evil.example.com/mcp"),
            ..RsConfig::default()
        },
        &auth_server.issuer(),
    )
    .await;
    let h = Harness::new(&rs, |a| a);
    let e = h.bearer("alice").await.unwrap_err();
    assert!(
        unavailable(&e).contains("is for https://evil.example.com/mcp"),
        "{e}"
    );
    assert!(
        auth_server.log().gets.is_empty(),
        "the server was not even asked"
    );

    // Another issuer in the server's metadata.
    let auth_server = MockAs::start(AsConfig {
        issuer: Some("https://attacker.example.com"),
        ..AsConfig::default()
    })
    .await;
    let rs = MockRs::start(RsConfig::default(), &auth_server.issuer()).await;
    let h = Harness::new(&rs, |a| a);
    let e = h.bearer("alice").await.unwrap_err();
    assert!(unavailable(&e).contains("another issuer"), "{e}");
    {
        let log = auth_server.log();
        assert!(log.register.is_empty() && log.authorize.is_empty());
    }

    // The authorization response's `iss`.
    for (iss, iss_supported, ok) in [
        (Iss::Wrong, Some(true), false),
        (Iss::Wrong, None, false),
        (Iss::Omitted, Some(true), false),
        (Iss::TrailingSlash, Some(true), false),
        (Iss::Omitted, None, true),
        (Iss::Correct, Some(true), true),
    ] {
        let auth_server = MockAs::start(AsConfig {
            iss,
            iss_supported,
            ..AsConfig::default()
        })
        .await;
        let rs = MockRs::start(RsConfig::default(), &auth_server.issuer()).await;
        let h = Harness::new(&rs, |a| a);
        let asked = h.bearer("alice").await.unwrap_err();
        let outcome = h.complete(asked).await;
        assert_eq!(outcome.is_ok(), ok, "{outcome:?}");
        if !ok {
            assert!(
                matches!(outcome, Err(CallbackError::WrongIssuer(_))),
                "{outcome:?}"
            );
            assert!(auth_server.log().token.is_empty(), "the code was not used");
            assert!(
                matches!(
                    h.bearer("alice").await,
                    Err(IdentityError::SignInRequired { .. })
                ),
                "no grant"
            );
        }
    }
}

/// A 403 `insufficient_scope` asks the user to sign in again for the
/// grant's scopes and the challenged ones; one for scopes the grant has is
/// refused at once, and so is a third step-up in a row.
#[tokio::test]
async fn insufficient_scope_steps_up_to_the_union_within_limits() {
    let auth_server = MockAs::start(AsConfig::default()).await;
    let rs = MockRs::start(
        RsConfig {
            challenge_scope: Some("mcp:basic"),
            ..RsConfig::default()
        },
        &auth_server.issuer(),
    )
    .await;
    let h = Harness::new(&rs, |a| a);
    let first = h.sign_in("alice").await;
    let challenge = |scope: &str| {
        format!(r#"Bearer error="insufficient_scope", scope="{scope}", resource_metadata="x""#)
    };
    let who = Harness::who("alice");
    let asked = h
        .identity
        .refused(who, 403, Some(&challenge("mcp:write")))
        .await
        .unwrap_err();
    h.complete(asked).await.expect("stepped up");
    let second = h.bearer("alice").await.unwrap();
    assert_ne!(first, second, "the new grant's token");
    // The same scope again: the grant has it; not asked again.
    let e = h
        .identity
        .refused(who, 403, Some(&challenge("mcp:write")))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, IdentityError::Refused { error, .. } if error == "insufficient_scope"),
        "{e}"
    );
    assert_eq!(h.bearer("alice").await.unwrap(), second, "the grant stays");
    // New scopes each time: a second step-up, then no third.
    let asked = h
        .identity
        .refused(who, 403, Some(&challenge("mcp:admin")))
        .await
        .unwrap_err();
    h.complete(asked).await.expect("stepped up again");
    let e = h
        .identity
        .refused(who, 403, Some(&challenge("mcp:root")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("3 times"), "{e}");
    let scopes: Vec<String> = auth_server
        .log()
        .authorize
        .iter()
        .map(|q| q["scope"].clone())
        .collect();
    assert_eq!(
        scopes,
        [
            "mcp:basic",
            "mcp:basic mcp:write",
            "mcp:basic mcp:write mcp:admin"
        ]
    );
    // Any other refusal only drops the token held.
    assert!(h.identity.refused(who, 400, None).await.is_ok());
}

/// A 401 for a token drops the grant and what was discovered: the user
/// signs in again at the server the upstream names now, which gets a
/// registration of its own — the first server's client never goes there.
#[tokio::test]
async fn a_401_finds_the_server_again_and_registers_with_a_new_one() {
    let first = MockAs::start(AsConfig::default()).await;
    let second = MockAs::start(AsConfig::default()).await;
    let rs = MockRs::start(RsConfig::default(), &first.issuer()).await;
    let h = Harness::new(&rs, |a| a);
    h.sign_in("alice").await;
    let old_client = first.log().authorize[0]["client_id"].clone();
    *rs.authorization_server.lock().unwrap() = second.issuer();
    let who = Harness::who("alice");
    h.identity
        .refused(who, 401, Some(r#"Bearer error="invalid_token""#))
        .await
        .expect("asked again at the next call");
    h.sign_in("alice").await;
    let log = second.log();
    assert_eq!(log.register.len(), 1, "registered with the new server");
    let new_client = &log.authorize[0]["client_id"];
    assert_ne!(new_client, &old_client);
    assert!(
        log.token.iter().all(|(f, a)| {
            f.get("client_id") != Some(&old_client)
                && !a.as_deref().unwrap_or_default().contains(&old_client)
        }),
        "the old client's credentials never reach the new server"
    );
    assert_eq!(first.log().authorize.len(), 1);
}

/// End to end: a user of the gateway calls a tool of an upstream — a
/// Switchboard accepting the authorization server's tokens, whose 401 and
/// metadata name that server — is asked to sign in by a URL elicitation,
/// follows it (registration, authorization, callback) and the call then
/// reaches the upstream as the server's user. The connect pages serve the
/// Client ID Metadata Document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_signs_users_in_where_the_upstream_says() {
    const SECRET: &str = "switchboard-test-secret-0123456789abcdef";
    let auth_server = MockAs::start(AsConfig {
        hs256: Some(SECRET),
        ..AsConfig::default()
    })
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    config.auth.resource_url = Some(upstream_url.clone());
    config.auth.authorization_servers = vec![auth_server.issuer()];
    config.auth.jwt.push(switchboard_auth::JwtConfig {
        issuer: auth_server.issuer(),
        audience: vec![upstream_url.clone()],
        hs256_secret: Some(SECRET.into()),
        ..switchboard_auth::JwtConfig::default()
    });
    config.tenants.push(TenantConfig {
        id: "acme".into(),
        ..TenantConfig::default()
    });
    let upstream = TestServer::on(
        listener,
        config,
        switchboard_everything::everything(),
        |app| app,
    )
    .await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let key = VaultKey {
        id: "k1".into(),
        key: [7; 32],
    };
    let vault = Arc::new(Vault::new(Arc::new(MemoryEntryStore::new()), &[key]).unwrap());
    let shared = UpstreamsShared {
        vault: Some(vault),
        ..UpstreamsShared::default()
    };
    let cimd = "https://sb.example.com/connect/client-metadata.json";
    let web = UpstreamConfig {
        name: "web".into(),
        kind: UpstreamKind::Http,
        url: upstream.url(),
        call_timeout_secs: 10,
        mode: PoolMode::PerSession,
        auth: Some(UpstreamAuth {
            grant: Grant::AuthorizationCode,
            redirect_uri: Some(format!("http://127.0.0.1:{port}/connect/callback")),
            client_metadata_url: Some(cimd.into()),
            ..UpstreamAuth::default()
        }),
        ..UpstreamConfig::default()
    };
    let provider = Arc::new(StdioProvider::with_shared(
        web.clone(),
        None,
        shared.clone(),
    ));
    provider.probe().await.expect("probe");
    let mut config = Config::default();
    config.upstreams.push(web);
    config.auth.anonymous = AnonymousMode::Off;
    let mut tenant = TenantConfig {
        id: "acme".into(),
        ..TenantConfig::default()
    };
    let (key, sha256) = switchboard_auth::new_api_key();
    tenant.api_keys.push(switchboard_server::ApiKeyConfig {
        id: "alice".into(),
        sha256,
    });
    config.tenants.push(tenant);
    let catalog = CatalogBuilder::new().provider(provider);
    let gateway = TestServer::on(listener, config, catalog, |app| app.upstreams(shared)).await;

    let mut alice = McpClient::with_token(&gateway.url(), &key);
    alice.initialize(json!({})).await;
    let whoami = || {
        alice.call(
            "tools/call",
            json!({"name": "web__whoami", "arguments": {}}),
        )
    };
    let (asked, _) = whoami().await;
    assert_eq!(asked["error"]["code"], -32042, "{asked}");
    let url = asked["error"]["data"]["elicitations"][0]["url"]
        .as_str()
        .expect("a URL")
        .to_owned();
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("Connected"), "{page}");
    let (who, _) = whoami().await;
    let seen = &who["result"]["structuredContent"];
    assert_eq!(
        (seen["tenant"].as_str(), seen["subject"].as_str()),
        (Some("acme"), Some("as-user")),
        "{who}"
    );
    {
        let log = auth_server.log();
        assert_eq!(
            log.register.len(),
            1,
            "the server takes no metadata documents"
        );
        assert_eq!(log.authorize[0]["resource"], upstream_url);
    }

    let base = gateway.url().trim_end_matches("/mcp").to_owned();
    let document: Value = reqwest::get(format!("{base}/connect/client-metadata.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["client_id"], cimd);
    assert_eq!(
        document["redirect_uris"],
        json!([format!("http://127.0.0.1:{port}/connect/callback")])
    );
    assert_eq!(document["token_endpoint_auth_method"], "none");
}

/// A 401 for a client-credentials token drops it from the vault as well as
/// from memory: the next call gets a new one, not the refused one again.
#[tokio::test]
async fn a_401_drops_a_service_token_from_the_vault_too() {
    let auth_server = MockAs::start(AsConfig::default()).await;
    let key = VaultKey {
        id: "k1".into(),
        key: [7; 32],
    };
    let vault = Arc::new(Vault::new(Arc::new(MemoryEntryStore::new()), &[key]).unwrap());
    let auth = UpstreamAuth {
        grant: Grant::ClientCredentials,
        token_endpoint: format!("{}/token", auth_server.base),
        client_id: "service".into(),
        client_secret: Some("service-secret".into()),
        ..UpstreamAuth::default()
    };
    auth.validate().unwrap();
    let identity = Identity::new("web", auth).with_vault(Some(vault), "");
    let who = Harness::who("alice");
    let token = || async {
        identity
            .bearer(who)
            .await
            .unwrap()
            .0
            .token
            .expose()
            .to_owned()
    };
    let first = token().await;
    assert_eq!(token().await, first, "held");
    identity.refused(who, 403, None).await.unwrap();
    assert_eq!(
        token().await,
        first,
        "a 403 without a challenge: kept in the vault"
    );
    identity.refused(who, 401, None).await.unwrap();
    let second = token().await;
    assert_ne!(second, first, "a new one after a 401");
    assert_eq!(auth_server.log().token.len(), 2);
}

/// DPoP (RFC 9449) toward a server offering ES256: the code is redeemed
/// with a proof of a key of the grant's own (POST, the token endpoint, no
/// `ath`), sent again with the nonce the server asks for; the token comes
/// back bound and is handed out with its key; a refresh proves the same
/// key; another user's grant has another key. With `dpop = false`, no
/// proof and a bearer token.
#[tokio::test]
async fn a_server_offering_dpop_gets_proofs_of_each_grants_key() {
    let auth_server = MockAs::start(AsConfig {
        dpop: true,
        dpop_nonce: Some("n-42"),
        expires_in: 2,
        ..AsConfig::default()
    })
    .await;
    let rs = MockRs::start(RsConfig::default(), &auth_server.issuer()).await;
    let h = Harness::new(&rs, |a| a);
    let alice = Harness::who("alice");
    let asked = h.identity.bearer(alice).await.expect_err("no grant yet");
    h.complete(asked).await.expect("signed in");
    let (first, _) = h.identity.bearer(alice).await.unwrap();
    assert!(first.dpop.is_some(), "a DPoP-bound token");
    let token_url = format!("{}/token", auth_server.base);
    let proofs = |from: usize| -> Vec<(Value, Value)> {
        auth_server.log().proofs[from..]
            .iter()
            .map(|p| {
                let p = p.as_deref().expect("a proof");
                (jwt_part(p, 0), jwt_part(p, 1))
            })
            .collect()
    };
    let redeemed = proofs(0);
    assert_eq!(
        redeemed.len(),
        2,
        "refused for the nonce, then sent with it"
    );
    for (i, (header, claims)) in redeemed.iter().enumerate() {
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert!(header["jwk"]["x"].is_string() && header["jwk"].get("d").is_none());
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], token_url.as_str());
        assert!(claims.get("ath").is_none(), "no access token to hash");
        let nonce = if i == 0 { Value::Null } else { json!("n-42") };
        assert_eq!(claims.get("nonce").cloned().unwrap_or(Value::Null), nonce);
    }
    assert_ne!(redeemed[0].1["jti"], redeemed[1].1["jti"]);
    let alice_key = redeemed[0].0["jwk"].clone();
    assert_eq!(redeemed[1].0["jwk"], alice_key);

    // Expired: the refresh proves the same key.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (second, _) = h.identity.bearer(alice).await.unwrap();
    assert_ne!(second.token.expose(), first.token.expose(), "refreshed");
    assert!(second.dpop.is_some());
    assert_eq!(
        auth_server.log().token.last().unwrap().0["grant_type"],
        "refresh_token"
    );
    let refreshed = proofs(2);
    assert_eq!(refreshed.len(), 2);
    assert_eq!(refreshed[1].0["jwk"], alice_key, "the grant's own key");
    assert_eq!(refreshed[1].1["nonce"], "n-42");

    // Bob's grant has a key of its own.
    h.sign_in("bob").await;
    let bobs = proofs(4);
    assert_ne!(bobs[0].0["jwk"], alice_key);

    // Turned off: a bearer token, no proof.
    let plain = Harness::new(&rs, |a| UpstreamAuth { dpop: false, ..a });
    let carol = Harness::who("carol");
    let asked = plain
        .identity
        .bearer(carol)
        .await
        .expect_err("no grant yet");
    plain.complete(asked).await.expect("signed in");
    let (token, _) = plain.identity.bearer(carol).await.unwrap();
    assert!(token.dpop.is_none());
    assert_eq!(auth_server.log().proofs.last(), Some(&None));
}
