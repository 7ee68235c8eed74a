//! JWT bearer tokens over HTTP, against a real JWKS the test serves: each
//! failure gets the right status and `WWW-Authenticate` challenge, and the
//! challenge leads to the protected-resource metadata (RFC 9728).

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_auth::JwtConfig;
use switchboard_auth::testing::{
    HS256_SECRET, JwksServer, TestKeys, claims, respellings, sign_hs256, unix_now, unsigned_none,
};
use switchboard_server::{AnonymousMode, Config, TenantConfig};
use switchboard_testkit::TestServer;

const ISSUER: &str = "https://login.test";
const AUDIENCE: &str = "https://mcp.test/mcp";

async fn server(jwks: &JwksServer) -> TestServer {
    TestServer::with(config(jwks), switchboard_everything::everything()).await
}

/// The configuration of `server`.
fn config(jwks: &JwksServer) -> Config {
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    config.auth.resource_url = Some(AUDIENCE.into());
    config.auth.jwt.push(JwtConfig {
        issuer: ISSUER.into(),
        audience: vec![AUDIENCE.into()],
        jwks_url: Some(jwks.url()),
        refresh_min_interval_secs: 0,
        tenants: vec!["acme".into()],
        ..JwtConfig::default()
    });
    // A tenant this issuer may not speak for.
    config.tenants.push(TenantConfig {
        id: "globex".into(),
        ..TenantConfig::default()
    });
    let mut acme = TenantConfig {
        id: "acme".into(),
        ..TenantConfig::default()
    };
    acme.tool_scopes
        .insert("add".into(), vec!["tools:math".into()]);
    config.tenants.push(acme);
    config
}

fn good() -> Value {
    claims(ISSUER, AUDIENCE, "acme", "alice")
}

/// POST `initialize` with this bearer token (or none); status and the
/// `WWW-Authenticate` header.
async fn try_token(server: &TestServer, token: Option<&str>) -> (StatusCode, String) {
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let mut rb = reqwest::Client::new()
        .post(server.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(t) = token {
        rb = rb.header("authorization", format!("Bearer {t}"));
    }
    let resp = rb.body(body.to_string()).send().await.unwrap();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (resp.status(), challenge)
}

const METADATA: &str =
    r#"resource_metadata="https://mcp.test/.well-known/oauth-protected-resource/mcp""#;

fn assert_invalid(case: &str, (status, challenge): (StatusCode, String)) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
    assert!(challenge.starts_with("Bearer "), "{case}: {challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{case}: {challenge}"
    );
    assert!(challenge.contains(METADATA), "{case}: {challenge}");
}

#[tokio::test]
async fn every_bad_token_gets_401_invalid_token() {
    let keys = TestKeys::load();
    let jwks = JwksServer::start(keys.jwks_json(&["rsa-1", "ec-1", "ed-1"])).await;
    let server = server(&jwks).await;

    for kid in ["rsa-1", "ec-1", "ed-1"] {
        let (status, _) = try_token(&server, Some(&keys.sign(kid, &good()))).await;
        assert_eq!(status, StatusCode::OK, "{kid}");
    }
    // No credential: a plain challenge without an error code.
    let (status, challenge) = try_token(&server, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains(METADATA), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");

    let mut expired = good();
    expired["exp"] = json!(unix_now() - 3600);
    assert_invalid(
        "expired",
        try_token(&server, Some(&keys.sign("rsa-1", &expired))).await,
    );
    let mut early = good();
    early["nbf"] = json!(unix_now() + 3600);
    assert_invalid(
        "not yet valid",
        try_token(&server, Some(&keys.sign("rsa-1", &early))).await,
    );
    let wrong_aud = claims(ISSUER, "https://other.test/mcp", "acme", "alice");
    assert_invalid(
        "wrong audience",
        try_token(&server, Some(&keys.sign("rsa-1", &wrong_aud))).await,
    );
    let wrong_iss = claims("https://evil.test", AUDIENCE, "acme", "alice");
    assert_invalid(
        "wrong issuer",
        try_token(&server, Some(&keys.sign("rsa-1", &wrong_iss))).await,
    );
    let unknown_tenant = claims(ISSUER, AUDIENCE, "initech", "alice");
    assert_invalid(
        "unknown tenant",
        try_token(&server, Some(&keys.sign("rsa-1", &unknown_tenant))).await,
    );
    assert_invalid(
        "alg none",
        try_token(&server, Some(&unsigned_none(&good()))).await,
    );
    // HS/RS confusion: an HS256 token keyed with the RSA public key.
    let confused = sign_hs256(keys.public_pem("rsa-1").as_bytes(), &good());
    assert_invalid(
        "HS256 with the RSA public key",
        try_token(&server, Some(&confused)).await,
    );
    let hs = sign_hs256(HS256_SECRET.as_bytes(), &good());
    assert_invalid(
        "HS256 without a configured secret",
        try_token(&server, Some(&hs)).await,
    );
    // A kid the JWKS does not have (refetched once, still unknown).
    assert_invalid(
        "unknown kid",
        try_token(&server, Some(&keys.sign("rsa-2", &good()))).await,
    );
    // An API key that does not exist.
    assert_invalid(
        "unknown API key",
        try_token(&server, Some("sb_not_a_key")).await,
    );
    // A malformed header is a bad request.
    let resp = reqwest::Client::new()
        .post(server.url())
        .header("authorization", "Basic dXNlcjpwYXNz")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_request""#)
    );
    server.stop().await;
}

#[tokio::test]
async fn rotation_is_picked_up_on_an_unknown_kid() {
    let keys = TestKeys::load();
    let jwks = JwksServer::start(keys.jwks_json(&["rsa-1"])).await;
    let server = server(&jwks).await;
    let old = keys.sign("rsa-1", &good());
    assert_eq!(try_token(&server, Some(&old)).await.0, StatusCode::OK);
    // The issuer rotates: rsa-2 in, rsa-1 out.
    jwks.set(keys.jwks_json(&["rsa-2"]));
    let new = keys.sign("rsa-2", &good());
    assert_eq!(try_token(&server, Some(&new)).await.0, StatusCode::OK);
    assert_invalid("retired key", try_token(&server, Some(&old)).await);
    server.stop().await;
}

#[tokio::test]
async fn scopes_metadata_and_an_unreachable_jwks() {
    let keys = TestKeys::load();
    let jwks = JwksServer::start(keys.jwks_json(&["rsa-1"])).await;
    let server = server(&jwks).await;
    let token = keys.sign("rsa-1", &good());
    let mut c = switchboard_testkit::McpClient::with_token(&server.url(), &token);
    c.initialize(json!({})).await;
    // `add` needs tools:math, which alice's token lacks.
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                      "params": {"name": "add", "arguments": {"a": 1, "b": 2}}});
    let resp = c.post().body(body.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="tools:math""#), "{challenge}");
    // With the scope, the call runs.
    let mut scoped = good();
    scoped["scope"] = json!("tools:math other");
    let mut c2 =
        switchboard_testkit::McpClient::with_token(&server.url(), &keys.sign("rsa-1", &scoped));
    c2.initialize(json!({})).await;
    let (r, _) = c2
        .call(
            "tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    assert_eq!(r["result"]["structuredContent"]["sum"], 3.0);
    // The same principal in another token still owns its session; another
    // subject of the same tenant does not.
    let bob = keys.sign("rsa-1", &claims(ISSUER, AUDIENCE, "acme", "bob"));
    let mut thief = switchboard_testkit::McpClient::with_token(&server.url(), &bob);
    thief.session = c2.session.clone();
    let resp = thief.post().body(body.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // The metadata document the challenge points to.
    let doc: Value = reqwest::get(format!(
        "http://{}/.well-known/oauth-protected-resource/mcp",
        server.addr
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(doc["resource"], AUDIENCE);
    assert_eq!(doc["authorization_servers"], json!([ISSUER]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    assert_eq!(doc["scopes_supported"], json!(["tools:math"]));

    // The JWKS goes away: a token with a new kid cannot be checked — 503,
    // not 401 (the client did nothing wrong).
    jwks.set_status(500);
    let (status, _) = try_token(&server, Some(&keys.sign("ec-1", &good()))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    server.stop().await;
}

#[tokio::test]
async fn a_token_has_one_spelling() {
    let keys = TestKeys::load();
    let jwks = JwksServer::start(keys.jwks_json(&["rsa-1", "ec-1", "ed-1"])).await;
    let server = server(&jwks).await;
    for kid in ["rsa-1", "ec-1", "ed-1"] {
        let mut tried = std::collections::BTreeSet::new();
        for i in 0..50 {
            let token = keys.sign(kid, &claims(ISSUER, AUDIENCE, "acme", &format!("a-{i}")));
            assert_eq!(try_token(&server, Some(&token)).await.0, StatusCode::OK);
            for (name, other) in respellings(&token) {
                assert_invalid(name, try_token(&server, Some(&other)).await);
                tried.insert(name);
            }
            if tried.len() == 3 {
                break;
            }
        }
        assert_eq!(tried.len(), 3, "{kid}: {tried:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_missing_scope_is_audited_with_the_session() {
    let dir = std::env::temp_dir().join(format!("sb-scope-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&path);
    let keys = TestKeys::load();
    let jwks = JwksServer::start(keys.jwks_json(&["rsa-1"])).await;
    let mut config = config(&jwks);
    config.auth.audit = path.to_string_lossy().into_owned();
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let mut c =
        switchboard_testkit::McpClient::with_token(&server.url(), &keys.sign("rsa-1", &good()));
    c.initialize(json!({})).await;
    let sid = c.session.clone().unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                      "params": {"name": "add", "arguments": {"a": 1, "b": 2}}});
    let resp = c.post().body(body.to_string()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let mut line = None;
    for _ in 0..500 {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        line = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|l| l["outcome"] == "insufficient_scope");
        if line.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let line = line.expect("an insufficient_scope audit line");
    assert_eq!(line["event"], "forbidden_tool");
    assert_eq!(line["tool"], "add");
    let short = line["session"].as_str().expect("the session is named");
    assert!(sid.starts_with(short) && short.len() < sid.len(), "{line}");
    server.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}
