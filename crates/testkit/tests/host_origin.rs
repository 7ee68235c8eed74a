//! The `Host`/`Origin` check on every route that has one, over raw TCP (an
//! HTTP client merges or refuses a repeated `Host`): a repeated header is
//! 400 (`-32600` on the MCP routes), a foreign one 403; the protected-
//! resource metadata names only hosts the endpoint accepts; the admin
//! listener checks both too.

use std::net::{Ipv4Addr, SocketAddr};

use serde_json::{Value, json};
use switchboard_server::{AnonymousMode, Config};
use switchboard_testkit::{RawConn, TestServer};

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// One request on a fresh connection: `line` (`GET /path`), `headers`
/// (each `Name: value`, in order, repeats kept), `body`. The status and
/// body of the answer. Only for answers that end (no open streams).
async fn raw(addr: SocketAddr, line: &str, headers: &[&str], body: &str) -> (u16, String) {
    let mut text = format!("{line} HTTP/1.1\r\n");
    for h in headers {
        text.push_str(&format!("{h}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let mut conn = RawConn::open(addr, Ipv4Addr::LOCALHOST).await;
    let reply = conn.send(&text).await;
    (reply.status, reply.body)
}

/// The JSON-RPC error code and message of `body`.
fn rpc_error(body: &str) -> (i64, String) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON: {body:?}"));
    assert_eq!(v["jsonrpc"], "2.0", "{body}");
    (
        v["error"]["code"].as_i64().unwrap_or_default(),
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The MCP routes that check `Host`/`Origin`, each as a request that ends
/// with an answer: request line, extra headers, body, and the status it
/// gets with one good `Host`.
fn routes() -> Vec<(&'static str, &'static [&'static str], &'static str, u16)> {
    const JSON: &[&str] = &[
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
    ];
    vec![
        ("POST /mcp", JSON, INIT, 200),
        // Without a session id: 400 -32001, after the Host check.
        ("GET /mcp", &["Accept: text/event-stream"], "", 400),
        ("DELETE /mcp", &[], "", 400),
        // An Accept without SSE: 406, after the Host check.
        ("GET /sse", &["Accept: application/json"], "", 406),
        ("POST /messages?sessionId=nope", JSON, INIT, 404),
        ("GET /.well-known/oauth-protected-resource", &[], "", 200),
        (
            "GET /.well-known/oauth-protected-resource/mcp",
            &[],
            "",
            200,
        ),
    ]
}

#[tokio::test]
async fn a_repeated_host_or_origin_is_refused_on_every_checked_route() {
    let server = TestServer::start().await;
    let host = format!("Host: 127.0.0.1:{}", server.addr.port());
    let origin = format!("Origin: http://127.0.0.1:{}", server.addr.port());
    for (line, extra, body, good) in routes() {
        let with = |more: &[&str]| {
            let mut h: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            h.extend(more.iter().map(|s| s.to_string()));
            h
        };
        let send = |h: Vec<String>| async move {
            let h: Vec<&str> = h.iter().map(String::as_str).collect();
            raw(server.addr, line, &h, body).await
        };
        let (status, answer) = send(with(&[&host, &origin])).await;
        assert_eq!(status, good, "{line} with one Host: {answer}");

        for (name, repeated) in [
            ("Host", with(&[&host, "Host: evil.com"])),
            ("Host", with(&[&host, &host])),
            ("Origin", with(&[&host, &origin, "Origin: http://evil.com"])),
            ("Origin", with(&[&host, &origin, &origin])),
        ] {
            let (status, answer) = send(repeated).await;
            assert_eq!(status, 400, "{line}, two {name}: {answer}");
            let (code, message) = rpc_error(&answer);
            assert_eq!(code, -32600, "{line}, two {name}: {answer}");
            assert!(
                message.contains(&format!("more than one {name} header")),
                "{line}: {message}"
            );
        }
        let (status, answer) = send(with(&["Host: evil.com"])).await;
        assert_eq!(status, 403, "{line}, foreign Host: {answer}");
        assert_eq!(rpc_error(&answer).0, -32600, "{answer}");
    }
}

#[tokio::test]
async fn the_metadata_names_only_accepted_hosts() {
    let config = Config {
        allowed_hosts: vec!["mcp.example.com".into()],
        ..Config::default()
    };
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let get = |host: &'static str| async move {
        raw(
            server.addr,
            "GET /.well-known/oauth-protected-resource/mcp",
            &[host],
            "",
        )
        .await
    };
    for (host, resource) in [
        ("Host: mcp.example.com", "http://mcp.example.com/mcp"),
        (
            "Host: MCP.example.com:8443",
            "http://MCP.example.com:8443/mcp",
        ),
        ("Host: localhost:1", "http://localhost:1/mcp"),
    ] {
        let (status, body) = get(host).await;
        assert_eq!(status, 200, "{host}: {body}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["resource"], json!(resource), "{host}");
    }
    for host in [
        "Host: evil.com",
        "Host: localhost:1@evil.com",
        "Host: mcp.example.com.evil.com",
        "Host: localhost:x",
    ] {
        let (status, body) = get(host).await;
        assert_eq!(status, 403, "{host}: {body}");
        assert!(!body.contains("evil.com/mcp"), "{host}: {body}");
        assert_eq!(rpc_error(&body).0, -32600, "{body}");
    }
}

/// The check is a layer on each route's methods: it runs before
/// authentication (a foreign `Host` is 403 where a good one is 401), and
/// not for a method the route does not serve (405 whatever the `Host`).
#[tokio::test]
async fn the_host_check_comes_before_authentication_and_not_before_the_method() {
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let host = format!("Host: 127.0.0.1:{}", server.addr.port());
    let send = |line, extra: &[&str], more: &str, body| {
        let mut h = extra.to_vec();
        h.push(more);
        let h: Vec<String> = h.iter().map(|s| s.to_string()).collect();
        async move {
            let h: Vec<&str> = h.iter().map(String::as_str).collect();
            raw(server.addr, line, &h, body).await
        }
    };
    // The metadata document asks for no credential.
    let authenticated = routes()
        .into_iter()
        .filter(|(line, ..)| !line.contains("oauth-protected-resource"));
    for (line, extra, body, _) in authenticated {
        let (status, answer) = send(line, extra, &host, body).await;
        assert_eq!(status, 401, "{line}, no credential: {answer}");
        let (status, answer) = send(line, extra, "Host: evil.com", body).await;
        assert_eq!(status, 403, "{line}, foreign Host first: {answer}");
        assert_eq!(rpc_error(&answer).0, -32600, "{answer}");
    }
    let origin = "Origin: http://evil.com";
    for line in ["PUT /mcp", "PATCH /mcp", "POST /sse", "GET /messages"] {
        for (extra, h) in [
            (&[][..], &*host),
            (&[], "Host: evil.com"),
            (&[&*host], origin),
        ] {
            let (status, answer) = send(line, extra, h, "").await;
            assert_eq!(status, 405, "{line} with {h}: {answer}");
        }
    }
}

/// An admin listener with a token, and `allowed_hosts` for it.
async fn admin_server(allowed: &[&str]) -> (TestServer, String) {
    let (token, digest) = switchboard_auth::new_api_key();
    let mut config = Config::default();
    config.admin.token_sha256 = Some(digest.into());
    config.admin.allowed_hosts = allowed.iter().map(|h| h.to_string()).collect();
    // The MCP endpoint's names do not open the admin listener.
    config.allowed_hosts = vec!["mcp.example.com".into()];
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    (server, token)
}

#[tokio::test]
async fn the_admin_listener_checks_host_and_origin() {
    let (server, token) = admin_server(&["ops.example.com"]).await;
    let addr = server.admin_addr.unwrap();
    let auth = format!("Authorization: Bearer {token}");
    let auth = auth.as_str();
    let local = format!("Host: 127.0.0.1:{}", addr.port());
    let local = local.as_str();
    for line in [
        "GET /",
        "GET /admin/v1/node",
        "GET /admin/v1/nope",
        "POST /admin/v1/drain",
    ] {
        // Refused before the token is looked at.
        for (headers, status, error) in [
            (
                vec![local, "Host: evil.com", auth],
                400,
                "more than one Host header",
            ),
            (vec!["Host: evil.com", auth], 403, "forbidden: host"),
            (vec!["Host: mcp.example.com", auth], 403, "forbidden: host"),
            (
                vec!["Host: localhost@evil.com", auth],
                403,
                "forbidden: host",
            ),
            (
                vec![local, "Origin: http://evil.com", auth],
                403,
                "forbidden: origin",
            ),
            (
                vec![
                    local,
                    "Origin: http://localhost",
                    "Origin: http://evil.com",
                    auth,
                ],
                400,
                "more than one Origin header",
            ),
            (vec!["Host: evil.com"], 403, "forbidden: host"),
        ] {
            let (got, body) = raw(addr, line, &headers, "").await;
            assert_eq!(got, status, "{line} {headers:?}: {body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert!(
                v["error"].as_str().is_some_and(|e| e.contains(error)),
                "{line} {headers:?}: {body}"
            );
        }
    }
    // Loopback names and the configured ones pass on to the token check.
    for host in [local, "Host: localhost", "Host: ops.example.com:8081"] {
        let (status, body) = raw(addr, "GET /admin/v1/node", &[host, auth], "").await;
        assert_eq!(status, 200, "{host}: {body}");
        let (status, _) = raw(addr, "GET /admin/v1/node", &[host], "").await;
        assert_eq!(status, 401, "{host} without the token");
        let origin = "Origin: http://ops.example.com";
        let (status, _) = raw(addr, "GET /", &[host, origin], "").await;
        assert_eq!(status, 200, "{host}: the page");
    }
}
