//! What an HTTP client would not send, over raw TCP: repeated `Host` and
//! `Origin`, odd framing, the protected-resource metadata asked with a
//! foreign `Host`; and connections past the caps, refused as they are
//! accepted.

use std::net::{Ipv4Addr, SocketAddr};

use switchboard_server::Config;
use switchboard_testkit::{RawConn, TestServer};
use tokio::sync::Mutex;

use super::table::{Case, check};

/// A request written as is on a fresh connection (from `from` to `to`);
/// with no text, nothing is written and what the server writes before it
/// closes is the answer.
pub struct Raw {
    to: SocketAddr,
    from: Ipv4Addr,
    text: String,
}

/// A default server with an admin listener, and two full ones.
pub struct Ctx {
    server: TestServer,
    /// The admin listener's token.
    admin_token: String,
    /// `max_connections = 1`, taken by `held_total`.
    total: TestServer,
    held_total: Mutex<RawConn>,
    /// `max_connections_per_address = 1` for every address, taken by
    /// `held_address` from [`CAPPED`].
    per_address: TestServer,
    held_address: Mutex<RawConn>,
}

/// The address whose one connection `per_address` holds.
const CAPPED: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 5);

/// A connection the server admitted (an unknown path is 404).
async fn admitted(to: SocketAddr, from: Ipv4Addr) -> RawConn {
    let mut conn = RawConn::open(to, from).await;
    assert_eq!(conn.get("/nope").await.status, 404);
    conn
}

fn everything() -> switchboard_runtime::CatalogBuilder {
    switchboard_everything::everything()
}

impl Ctx {
    pub async fn start() -> Self {
        let (admin_token, digest) = switchboard_auth::new_api_key();
        let mut config = Config::default();
        config.admin.token_sha256 = Some(digest.into());
        let server = TestServer::with(config, everything()).await;
        let total = Config::from_toml("max_connections = 1\nprobe_connections = 0").unwrap();
        let total = TestServer::with(total, everything()).await;
        let per_address =
            Config::from_toml("max_connections_per_address = 1\nper_address_exempt = []").unwrap();
        let per_address = TestServer::with(per_address, everything()).await;
        Self {
            held_total: Mutex::new(admitted(total.addr, Ipv4Addr::LOCALHOST).await),
            held_address: Mutex::new(admitted(per_address.addr, CAPPED).await),
            server,
            admin_token,
            total,
            per_address,
        }
    }

    /// `line` with these headers (and `Content-Length`) to the default
    /// server.
    fn request(&self, line: &str, headers: &[&str], body: &str) -> Raw {
        let mut text = format!("{line} HTTP/1.1\r\n");
        for h in headers {
            text.push_str(&format!("{h}\r\n"));
        }
        text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        Raw {
            to: self.server.addr,
            from: Ipv4Addr::LOCALHOST,
            text,
        }
    }

    /// A JSON POST to `/mcp` with these headers.
    fn post(&self, headers: &[&str]) -> Raw {
        let mut all = vec![
            "Content-Type: application/json",
            "Accept: application/json, text/event-stream",
        ];
        all.extend_from_slice(headers);
        self.request("POST /mcp", &all, INIT)
    }

    /// `line` with these headers, and the token, to the admin listener.
    fn admin(&self, line: &str, headers: &[&str]) -> Raw {
        let auth = format!("Authorization: Bearer {}", self.admin_token);
        let mut all = headers.to_vec();
        all.push(&auth);
        Raw {
            to: self.server.admin_addr.expect("the admin listener"),
            ..self.request(line, &all, "")
        }
    }

    fn metadata(&self, headers: &[&str]) -> Raw {
        self.request("GET /.well-known/oauth-protected-resource/mcp", headers, "")
    }

    /// A connection to `to` from `from` that sends nothing.
    fn connect(to: &TestServer, from: Ipv4Addr) -> Raw {
        Raw {
            to: to.addr,
            from,
            text: String::new(),
        }
    }

    /// Run every case, in order; after each, every server still serves.
    /// Returns how many ran.
    pub async fn run(&self, cases: &[Case<Ctx, Raw>]) -> usize {
        for case in cases {
            eprintln!("case: {}", case.name);
            let raw = (case.send)(self);
            let mut conn = RawConn::open(raw.to, raw.from).await;
            let (status, body) = if raw.text.is_empty() {
                let answer = conn.read_until_closed().await;
                let status = answer
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap();
                let body = answer
                    .split_once("\r\n\r\n")
                    .map_or("", |(_, b)| b)
                    .to_owned();
                (status, body)
            } else {
                let reply = conn.send(&raw.text).await;
                (reply.status, reply.body)
            };
            check(case, status, &body);
            self.still_serves().await;
        }
        cases.len()
    }

    async fn still_serves(&self) {
        let mut conn = RawConn::open(self.server.addr, Ipv4Addr::LOCALHOST).await;
        assert_eq!(conn.get("/healthz").await.status, 200);
        for held in [&self.held_total, &self.held_address] {
            assert_eq!(held.lock().await.get("/nope").await.status, 404);
        }
    }
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
const HOST: &str = "Host: 127.0.0.1";
const ORIGIN: &str = "Origin: http://127.0.0.1";

fn case(
    name: &'static str,
    status: u16,
    code: impl Into<Option<i64>>,
    send: fn(&Ctx) -> Raw,
) -> Case<Ctx, Raw> {
    Case::new(name, status, code, send)
}

#[rustfmt::skip]
pub fn cases() -> Vec<Case<Ctx, Raw>> {
    vec![
        case("two Host headers (POST /mcp)", 400, -32600, |x| x.post(&[HOST, "Host: evil.com"])).says("more than one Host header"),
        case("the same Host twice (POST /mcp)", 400, -32600, |x| x.post(&[HOST, HOST])).says("more than one Host header"),
        case("two Origin headers (POST /mcp)", 400, -32600, |x| x.post(&[HOST, ORIGIN, "Origin: http://evil.com"])).says("more than one Origin header"),
        case("two Host headers (GET /mcp)", 400, -32600, |x| x.request("GET /mcp", &[HOST, "Host: evil.com", "Accept: text/event-stream"], "")).says("more than one Host header"),
        case("two Host headers (DELETE /mcp)", 400, -32600, |x| x.request("DELETE /mcp", &[HOST, "Host: evil.com"], "")).says("more than one Host header"),
        case("two Host headers (GET /sse)", 400, -32600, |x| x.request("GET /sse", &[HOST, "Host: evil.com", "Accept: text/event-stream"], "")).says("more than one Host header"),
        case("two Origin headers (POST /messages)", 400, -32600, |x| x.request("POST /messages?sessionId=nope", &[HOST, ORIGIN, ORIGIN, "Content-Type: application/json"], INIT)).says("more than one Origin header"),
        case("two Host headers (metadata)", 400, -32600, |x| x.metadata(&[HOST, "Host: evil.com"])).says("more than one Host header"),
        case("metadata, foreign Host", 403, -32600, |x| x.metadata(&["Host: evil.com"])).says("forbidden: host"),
        case("metadata, Host with user info", 403, -32600, |x| x.metadata(&["Host: localhost:1@evil.com"])).says("forbidden: host"),
        case("metadata, Host with a port that is not a number", 403, -32600, |x| x.metadata(&["Host: localhost:x"])).says("forbidden: host"),
        case("metadata, foreign Origin", 403, -32600, |x| x.metadata(&[HOST, "Origin: http://evil.com"])).says("forbidden: origin"),
        case("metadata, local Host: served", 200, None, |x| x.metadata(&[HOST])),
        case("admin listener, foreign Host", 403, None, |x| x.admin("GET /admin/v1/node", &["Host: evil.com"])).says("forbidden: host"),
        case("admin listener, two Host headers", 400, None, |x| x.admin("GET /admin/v1/node", &[HOST, "Host: evil.com"])).says("more than one Host header"),
        case("admin listener, foreign Origin", 403, None, |x| x.admin("POST /admin/v1/drain", &[HOST, "Origin: http://evil.com"])).says("forbidden: origin"),
        case("admin listener, no token", 401, None, |x| Raw { to: x.server.admin_addr.unwrap(), ..x.request("GET /admin/v1/node", &[HOST], "") }),
        case("two different Content-Lengths", 400, None, |x| x.request("POST /mcp", &[HOST, "Content-Length: 3", "Content-Type: application/json"], INIT)),
        case("over max_connections", 503, -32000, |x| Ctx::connect(&x.total, Ipv4Addr::LOCALHOST)).says("too many connections (total_cap)"),
        case("over max_connections_per_address", 503, -32000, |x| Ctx::connect(&x.per_address, CAPPED)).says("too many connections (per_address_cap)"),
    ]
}
