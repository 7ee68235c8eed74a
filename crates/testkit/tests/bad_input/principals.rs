//! Who may do what, on every HTTP front of a server without anonymous
//! access: credentials (API keys, JWTs of one issuer, respelled ones
//! included), a session bound to its principal, tool scopes and rates
//! whatever the spelling of the call, and what a session may keep.

use serde_json::{Value, json};
use switchboard_auth::testing::{JwksServer, TestKeys, claims, respellings, unsigned_none};
use switchboard_server::Config;
use switchboard_testkit::{McpClient, ModernClient, SseReader, TestServer};
use tokio::sync::Mutex;

use super::table::{Case, Front, initialize, kept, padded, response_on, rpc};

const ISSUER: &str = "https://login.test";
const AUDIENCE: &str = "https://mcp.test/mcp";
/// `max_session_bytes` here; four sessions of [`FAT`] bytes of
/// capabilities fit in `max_session_bytes_per_identity`, a fifth does not.
const MAX_SESSION_BYTES: usize = 8192;
const FAT: usize = 6000;

/// Tenant acme: API keys `a`, `b` and `fat`, and JWTs of the issuer;
/// `add` needs the scope `tools:math`; `echo` may be called once (its
/// tool rate, spent). Tenant limited: one request (spent). Tenant globex:
/// the issuer may not name it.
fn config(jwks: &str, keys: &[(&str, String)]) -> Config {
    let digest = |name: &str| {
        let key = &keys.iter().find(|(n, _)| *n == name).unwrap().1;
        switchboard_auth::digest_hex(key)
    };
    Config::from_toml(&format!(
        r#"
max_session_bytes = {MAX_SESSION_BYTES}
max_session_bytes_per_identity = 30000
[auth]
anonymous = "off"
resource_url = "{AUDIENCE}"
[[auth.jwt]]
issuer = "{ISSUER}"
audience = ["{AUDIENCE}"]
jwks_url = "{jwks}"
refresh_min_interval_secs = 0
tenants = ["acme"]
[[tenants]]
id = "acme"
api_keys = [{{ id = "a", sha256 = "{a}" }}, {{ id = "b", sha256 = "{b}" }}, {{ id = "fat", sha256 = "{fat}" }}]
tool_scopes = {{ add = ["tools:math"] }}
tool_rates = {{ echo = {{ per_second = 0.0001, burst = 1 }} }}
[[tenants]]
id = "limited"
api_keys = [{{ id = "a", sha256 = "{limited}" }}]
rate = {{ per_second = 0.0001, burst = 1 }}
[[tenants]]
id = "globex"
"#,
        a = digest("a"),
        b = digest("b"),
        fat = digest("fat"),
        limited = digest("limited"),
    ))
    .expect("config")
}

/// Tokens: `alice` (acme, no scope) and its kin.
pub struct Jwts {
    alice: String,
    standard_alphabet: String,
    padded: String,
    trailing_bits: String,
    expired: String,
    alg_none: String,
    globex: String,
    wrong_audience: String,
}

impl Jwts {
    fn new(keys: &TestKeys) -> Self {
        // A token with a `-` or `_` in it, so it has a standard-alphabet
        // spelling.
        let (claims_of_alice, alice) = (0..)
            .map(|n| {
                let mut c = claims(ISSUER, AUDIENCE, "acme", "alice");
                c["jti"] = json!(n);
                let token = keys.sign("rsa-1", &c);
                (c, token)
            })
            .find(|(_, t)| t.contains(['-', '_']))
            .unwrap();
        let spelled = |how: &str| {
            respellings(&alice)
                .into_iter()
                .find(|(name, _)| *name == how)
                .unwrap_or_else(|| panic!("no {how} spelling"))
                .1
        };
        let mut expired = claims_of_alice.clone();
        expired["exp"] = json!(switchboard_auth::testing::unix_now() - 3600);
        Self {
            standard_alphabet: spelled("standard alphabet"),
            padded: spelled("padded"),
            trailing_bits: spelled("non-canonical trailing bits"),
            expired: keys.sign("rsa-1", &expired),
            alg_none: unsigned_none(&claims_of_alice),
            globex: keys.sign("rsa-1", &claims(ISSUER, AUDIENCE, "globex", "alice")),
            wrong_audience: keys.sign(
                "rsa-1",
                &claims(ISSUER, "https://other.test/mcp", "acme", "alice"),
            ),
            alice,
        }
    }
}

pub struct Ctx {
    server: TestServer,
    _jwks: JwksServer,
    jwt: Jwts,
    /// API keys by name.
    keys: Vec<(&'static str, String)>,
    /// Sessions: key a's (echo's rate spent), alice's, limited's (its
    /// tenant's rate spent).
    a: McpClient,
    alice: McpClient,
    limited: McpClient,
    /// alice's HTTP+SSE session: its `/messages` and stream.
    messages: String,
    stream: Mutex<SseReader>,
    /// Sessions holding key fat's byte budget.
    _fat: Vec<McpClient>,
}

impl Ctx {
    pub async fn start() -> Self {
        let keys = TestKeys::load();
        let jwks = JwksServer::start(keys.jwks_json(&["rsa-1"])).await;
        let api_keys: Vec<(&'static str, String)> = ["a", "b", "fat", "limited"]
            .into_iter()
            .map(|n| (n, switchboard_auth::new_api_key().0))
            .collect();
        let server = TestServer::with(
            config(&jwks.url(), &api_keys),
            switchboard_everything::everything(),
        )
        .await;
        let jwt = Jwts::new(&keys);
        let key = |name: &str| api_keys.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        let session = async |token: &str, capabilities: Value| {
            let mut c = McpClient::with_token(&server.url(), token);
            c.initialize(capabilities).await;
            c
        };
        let a = session(&key("a"), json!({})).await;
        let echo = a.call_tool("echo", json!({"message": "spent"})).await;
        assert_eq!(echo["content"][0]["text"], "spent", "{echo}");
        let limited = session(&key("limited"), json!({})).await;
        let (listed, _) = limited.call("tools/list", json!({})).await;
        assert!(listed["result"]["tools"].is_array(), "{listed}");
        let mut fat = Vec::new();
        for _ in 0..4 {
            fat.push(session(&key("fat"), padded(FAT)).await);
        }
        let (messages, stream) = sse_session(&server, &jwt.alice).await;
        Self {
            alice: session(&jwt.alice, json!({})).await,
            server,
            _jwks: jwks,
            jwt,
            keys: api_keys,
            a,
            limited,
            messages,
            stream: Mutex::new(stream),
            _fat: fat,
        }
    }

    fn key(&self, name: &str) -> &str {
        &self.keys.iter().find(|(n, _)| *n == name).unwrap().1
    }

    /// A POST to `/mcp` with no credential and no session.
    fn anyone(&self) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .post(self.server.url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
    }

    /// An `initialize` with `Authorization: <authorization>`.
    fn init_as(&self, authorization: &str) -> reqwest::RequestBuilder {
        self.anyone()
            .header("authorization", authorization)
            .body(initialize("2025-11-25", &json!({}), &json!({"name": "t"})))
    }

    /// An `initialize` with this bearer token.
    fn init_bearer(&self, token: &str) -> reqwest::RequestBuilder {
        self.init_as(&format!("Bearer {token}"))
    }

    /// A request of session `c`.
    fn call(c: &McpClient, method: &str, params: &str) -> reqwest::RequestBuilder {
        c.post().body(rpc(method, params))
    }

    /// A request of key a's session sent with `token`.
    fn on_a_as(&self, token: &str) -> McpClient {
        let mut c = McpClient::with_token(&self.server.url(), token);
        c.session = self.a.session.clone();
        c
    }

    /// A stateless `tools/call` with `token`: raw params with `_meta`.
    fn stateless(&self, token: &str, tool: &str, params: &str) -> reqwest::RequestBuilder {
        let c = ModernClient::with_token(&self.server.url(), token);
        let params = match params.strip_suffix('}') {
            Some(open) => format!(r#"{open},"_meta":{}}}"#, c.with_meta(json!({}))["_meta"]),
            None => params.to_owned(),
        };
        c.post("tools/call", &json!({"name": tool}))
            .body(rpc("tools/call", &params))
    }

    /// A stateless request of tenant limited.
    fn stateless_limited(&self, method: &str, params: Value) -> reqwest::RequestBuilder {
        let c = ModernClient::with_token(&self.server.url(), self.key("limited"));
        let params = c.with_meta(params);
        c.post(method, &params).body(
            json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string(),
        )
    }

    /// A POST to alice's `/messages` with this bearer token.
    fn message_as(&self, token: &str, body: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .post(&self.messages)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(body.to_owned())
    }
}

/// An initialized HTTP+SSE session of `token`: its `/messages` URL and
/// stream.
async fn sse_session(server: &TestServer, token: &str) -> (String, SseReader) {
    let http = switchboard_testkit::bearer_client(token);
    let resp = http
        .get(format!("http://{}/sse", server.addr))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("GET /sse");
    assert_eq!(resp.status(), 200);
    let mut stream = SseReader::new(resp);
    let endpoint = stream.next().await.expect("the endpoint event");
    let messages = format!("http://{}{}", server.addr, endpoint.data);
    let init = initialize("2024-11-05", &json!({}), &json!({"name": "t"}));
    let resp = http
        .post(&messages)
        .header("content-type", "application/json")
        .body(init)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let v = response_on(&mut stream).await;
    assert_eq!(v["result"]["protocolVersion"], "2024-11-05", "{v}");
    (messages, stream)
}

impl Front for Ctx {
    fn stream(&self) -> Option<&Mutex<SseReader>> {
        Some(&self.stream)
    }

    async fn still_serves(&self) {
        for c in [&self.a, &self.alice, &self.limited] {
            let (pong, _) = c.call("ping", json!({})).await;
            assert_eq!(pong["result"], json!({}), "{pong}");
        }
        let ping = r#"{"jsonrpc":"2.0","id":"alive","method":"ping"}"#;
        let resp = self.message_as(&self.jwt.alice, ping).send().await.unwrap();
        assert_eq!(resp.status(), 202);
        let v = response_on(&mut *self.stream.lock().await).await;
        assert_eq!(
            (&v["id"], &v["result"]),
            (&json!("alive"), &json!({})),
            "{v}"
        );
    }
}

fn case(
    name: &'static str,
    status: u16,
    code: impl Into<Option<i64>>,
    send: fn(&Ctx) -> reqwest::RequestBuilder,
) -> Case<Ctx> {
    Case::new(name, status, code, send)
}

const ADD: &str = r#"{"name":"add","arguments":{"a":1,"b":2}}"#;
const ADD_BY_POSITION: &str = r#"["add",{"a":1,"b":2}]"#;

#[rustfmt::skip]
pub fn cases() -> Vec<Case<Ctx>> {
    let info = json!({"name": "t"});
    let over = padded(MAX_SESSION_BYTES + 1000);
    let long_name = json!({"name": "y".repeat(MAX_SESSION_BYTES)});
    vec![
        // Credentials.
        case("no credential", 401, -32004, |x| x.anyone().body(initialize("2025-11-25", &json!({}), &json!({"name": "t"})))).says("a bearer token is required").data(json!({"status": 401})),
        case("Authorization: Basic", 400, -32004, |x| x.init_as("Basic YTpi")).data(json!({"status": 400, "error": "invalid_request"})),
        case("two Authorization headers", 400, -32004, |x| x.init_bearer(x.key("a")).header("authorization", format!("Bearer {}", x.key("b")))).says("more than one Authorization header"),
        case("Authorization over 16 KiB", 400, -32004, |x| x.init_bearer(&"k".repeat(17 << 10))).says("too long"),
        case("unknown API key", 401, -32004, |x| x.init_bearer("sb_nope")).data(json!({"error": "invalid_token"})),
        case("JWT in the standard alphabet", 401, -32004, |x| x.init_bearer(&x.jwt.standard_alphabet)).data(json!({"error": "invalid_token"})),
        case("JWT padded", 401, -32004, |x| x.init_bearer(&x.jwt.padded)).data(json!({"error": "invalid_token"})),
        case("JWT with non-canonical trailing bits", 401, -32004, |x| x.init_bearer(&x.jwt.trailing_bits)).data(json!({"error": "invalid_token"})),
        case("JWT expired", 401, -32004, |x| x.init_bearer(&x.jwt.expired)).data(json!({"error": "invalid_token"})),
        case("JWT alg none", 401, -32004, |x| x.init_bearer(&x.jwt.alg_none)).data(json!({"error": "invalid_token"})),
        case("JWT for a tenant its issuer may not name", 401, -32004, |x| x.init_bearer(&x.jwt.globex)).data(json!({"error": "invalid_token"})),
        case("JWT for another audience", 401, -32004, |x| x.init_bearer(&x.jwt.wrong_audience)).data(json!({"error": "invalid_token"})),
        case("stateless, no credential", 401, -32004, |x| ModernClient::new(&x.server.url()).post("tools/list", &json!({})).body(rpc("tools/list", "{}"))),
        case("GET /sse, no credential", 401, -32004, |x| reqwest::Client::new().get(format!("http://{}/sse", x.server.addr)).header("accept", "text/event-stream")),
        // A session is its principal's.
        case("key b on key a's session (POST)", 404, -32001, |x| x.on_a_as(x.key("b")).post().body(rpc("ping", "{}"))).says("session not found"),
        case("key b on key a's session (GET)", 404, -32001, |x| x.on_a_as(x.key("b")).get()).says("session not found"),
        case("key b on key a's session (DELETE)", 404, -32001, |x| x.on_a_as(x.key("b")).http.delete(x.server.url()).header("mcp-session-id", x.a.session.clone().unwrap())).says("session not found"),
        case("a JWT on key a's session", 404, -32001, |x| x.on_a_as(&x.jwt.alice).post().body(rpc("ping", "{}"))).says("session not found"),
        case("key a on alice's /messages", 404, -32001, |x| x.message_as(x.key("a"), &rpc("ping", "{}"))).says("session not found"),
        // Tool scopes, however the call is spelled.
        case("add without its scope", 403, -32004, |x| Ctx::call(&x.alice, "tools/call", ADD)).says("needs the scopes").data(json!({"status": 403, "error": "insufficient_scope", "scope": "tools:math"})),
        case("add without its scope, as a task", 403, -32004, |x| Ctx::call(&x.alice, "tools/call", r#"{"name":"add","arguments":{"a":1,"b":2},"task":{}}"#)).data(json!({"error": "insufficient_scope"})),
        case("add without its scope, by position", 200, -32602, |x| Ctx::call(&x.alice, "tools/call", ADD_BY_POSITION)).says("params must be an object, not an array"),
        case("add without its scope, by position with a task", 200, -32602, |x| Ctx::call(&x.alice, "tools/call", r#"["add",{"a":1,"b":2},{"ttl":5000}]"#)).says("params must be an object"),
        case("add without its scope, named after echo", 200, -32602, |x| Ctx::call(&x.alice, "tools/call", r#"{"name":"echo","name":"add","arguments":{"a":1,"b":2}}"#)).says("duplicate field"),
        case("stateless add without its scope", 403, -32004, |x| x.stateless(&x.jwt.alice, "add", ADD)).data(json!({"error": "insufficient_scope"})),
        case("stateless add without its scope, by position", 400, -32602, |x| x.stateless(&x.jwt.alice, "add", ADD_BY_POSITION)).says("params must be an object"),
        case("/messages add without its scope", 202, -32004, |x| x.message_as(&x.jwt.alice, &rpc("tools/call", ADD))).data(json!({"error": "insufficient_scope"})),
        case("/messages add without its scope, by position", 202, -32602, |x| x.message_as(&x.jwt.alice, &rpc("tools/call", ADD_BY_POSITION))).says("params must be an object"),
        // Rates, however the call is spelled.
        case("echo over its tool rate", 429, -32029, |x| Ctx::call(&x.a, "tools/call", r#"{"name":"echo","arguments":{"message":"x"}}"#)).says("rate limit exceeded (tool)").data(json!({"limit": "tool"})),
        case("echo over its tool rate, by position", 200, -32602, |x| Ctx::call(&x.a, "tools/call", r#"["echo",{"message":"x"}]"#)).says("params must be an object"),
        case("stateless echo over its tool rate", 429, -32029, |x| x.stateless(x.key("b"), "echo", r#"{"name":"echo","arguments":{"message":"x"}}"#)).data(json!({"limit": "tool"})),
        case("tasks/list over the tenant's rate", 429, -32029, |x| Ctx::call(&x.limited, "tasks/list", "{}")).says("rate limit exceeded (tenant)").data(json!({"limit": "tenant"})),
        case("tasks/get over the tenant's rate", 429, -32029, |x| Ctx::call(&x.limited, "tasks/get", r#"{"taskId":"nope"}"#)).data(json!({"limit": "tenant"})),
        case("tools/list over the tenant's rate", 429, -32029, |x| Ctx::call(&x.limited, "tools/list", "{}")).data(json!({"limit": "tenant"})),
        case("stateless tasks/get over the tenant's rate", 429, -32029, |x| x.stateless_limited("tasks/get", json!({"taskId": "nope"}))).data(json!({"limit": "tenant"})),
        // What a session keeps.
        case("initialize with capabilities over max_session_bytes", 400, -32602, |x| x.init_bearer(x.key("a")).body(initialize("2025-11-25", &padded(MAX_SESSION_BYTES + 1000), &json!({"name": "t"})))).says("more than max_session_bytes (8192)").data(json!({"bytes": kept(&over, &info), "limit": MAX_SESSION_BYTES})),
        case("initialize with clientInfo over max_session_bytes", 400, -32602, |x| x.init_bearer(x.key("a")).body(initialize("2025-11-25", &json!({}), &json!({"name": "y".repeat(MAX_SESSION_BYTES)})))).says("more than max_session_bytes (8192)").data(json!({"bytes": kept(&json!({}), &long_name), "limit": MAX_SESSION_BYTES})),
        case("initialize past the identity's byte budget", 429, -32005, |x| x.init_bearer(x.key("fat")).body(initialize("2025-11-25", &padded(FAT), &json!({"name": "t"})))).says("max_session_bytes_per_identity").data(json!({"quota": "max_session_bytes_per_identity"})),
    ]
}
