//! The session era on `/mcp` (2025-03-26 … 2025-11-25): POST, GET and
//! DELETE, anonymous clients of a default server.

use serde_json::json;
use switchboard_testkit::{McpClient, SseReader, TestServer};

use super::table::{Case, Front, big, deep, note, rpc};

const PING: &str = r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#;
const INIT: &str = r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

/// A default server and its clients.
pub struct Ctx {
    _server: TestServer,
    /// A 2025-11-25 session whose standalone stream is open.
    c: McpClient,
    /// A 2025-06-18 session.
    mid: McpClient,
    /// A 2025-03-26 session (batches).
    old: McpClient,
    /// No session.
    none: McpClient,
    /// A session the client has ended.
    ended: McpClient,
    _standalone: SseReader,
}

impl Ctx {
    pub async fn start() -> Self {
        let server = TestServer::start().await;
        let session = async |version: &str| {
            let mut c = server.client();
            c.version = version.into();
            c.initialize(json!({})).await;
            c
        };
        let c = session("2025-11-25").await;
        let mid = session("2025-06-18").await;
        let old = session("2025-03-26").await;
        let ended = session("2025-11-25").await;
        assert_eq!(ended.delete().await, 200);
        let resp = c.get().send().await.expect("GET");
        assert_eq!(resp.status(), 200, "the standalone stream");
        Self {
            none: server.client(),
            _server: server,
            c,
            mid,
            old,
            ended,
            _standalone: SseReader::new(resp),
        }
    }

    /// A POST of the session with no `Content-Type`, `Accept` or
    /// `MCP-Protocol-Version`.
    fn bare(&self) -> reqwest::RequestBuilder {
        let c = &self.c;
        c.http
            .post(&c.url)
            .header("mcp-session-id", c.session.clone().unwrap())
    }

    /// A POST with a JSON body and the session's headers but `Accept`.
    fn accept(&self, accept: &str) -> reqwest::RequestBuilder {
        let rb = self.bare().header("content-type", "application/json");
        match accept {
            "" => rb,
            a => rb.header("accept", a),
        }
        .body(PING)
    }

    /// A request of the 2025-11-25 session.
    fn call(&self, method: &str, params: &str) -> reqwest::RequestBuilder {
        self.c.post().body(rpc(method, params))
    }

    /// A POST naming the session id `id`.
    fn named(&self, id: &str) -> reqwest::RequestBuilder {
        self.none.post().header("mcp-session-id", id).body(PING)
    }
}

impl Front for Ctx {
    async fn still_serves(&self) {
        let (pong, _) = self.c.call("ping", json!({})).await;
        assert_eq!(pong["result"], json!({}), "{pong}");
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

#[rustfmt::skip]
pub fn cases() -> Vec<Case<Ctx>> {
    vec![
        // The body: JSON, the JSON-RPC envelope, size and depth.
        case("malformed JSON", 400, -32700, |x| x.c.post().body(r#"{"jsonrpc":"#)).says("parse error"),
        case("empty body", 400, -32700, |x| x.c.post().body("")).says("empty body"),
        case("not UTF-8", 400, -32700, |x| x.c.post().body(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"\xff\"}".to_vec())),
        case("a UTF-8 byte order mark", 400, -32700, |x| x.c.post().body(format!("\u{feff}{PING}"))).says("parse error"),
        case("trailing garbage", 400, -32700, |x| x.c.post().body(format!("{PING} x"))).says("trailing characters"),
        case("two messages", 400, -32700, |x| x.c.post().body(format!("{PING}{PING}"))).says("trailing characters"),
        case("JSON null", 400, -32600, |x| x.c.post().body("null")).says("must be a JSON object or array"),
        case("a number", 400, -32600, |x| x.c.post().body("42")).says("must be a JSON object or array"),
        case("jsonrpc 1.0", 400, -32600, |x| x.c.post().body(r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#)).says(r#""jsonrpc" must be "2.0""#),
        case("jsonrpc a number", 400, -32600, |x| x.c.post().body(r#"{"jsonrpc":2.0,"id":7,"method":"ping"}"#)).says(r#""jsonrpc" must be "2.0""#),
        case("no jsonrpc", 400, -32600, |x| x.c.post().body(r#"{"id":7,"method":"ping"}"#)).says(r#""jsonrpc" must be "2.0""#),
        case("no method", 400, -32600, |x| x.c.post().body(r#"{"jsonrpc":"2.0","id":7,"params":{}}"#)).says(r#"needs "method""#),
        case("method a number", 400, -32600, |x| x.c.post().body(r#"{"jsonrpc":"2.0","id":7,"method":5}"#)).says(r#""method" must be a non-empty string"#),
        case("method empty", 400, -32600, |x| x.c.post().body(r#"{"jsonrpc":"2.0","id":7,"method":""}"#)).says(r#""method" must be a non-empty string"#),
        case("id an object", 400, -32600, |x| x.c.post().body(r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#)).says(r#""id" must be a string or a number"#),
        case("id null", 400, -32600, |x| x.c.post().body(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#)).says(r#""id" must be a string or a number"#),
        case("id true", 400, -32600, |x| x.c.post().body(r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#)).says(r#""id" must be a string or a number"#),
        case("id an array", 400, -32600, |x| x.c.post().body(r#"{"jsonrpc":"2.0","id":[7],"method":"ping"}"#)).says(r#""id" must be a string or a number"#),
        case("id twice", 400, -32700, |x| x.c.post().body(r#"{"jsonrpc":"2.0","id":7,"id":8,"method":"ping"}"#)).says("duplicate field"),
        case("result and error", 400, -32600, |x| x.c.post().body(r#"{"jsonrpc":"2.0","id":7,"result":{},"error":{}}"#)).says(r#"needs "method""#),
        case("nested 5000 deep", 400, -32700, |x| x.c.post().body(deep(5000))).says("nested deeper than 128"),
        case("body over max_body_bytes", 413, -32600, |x| x.c.post().body(big(5 << 20))).says("larger than 4194304 bytes"),
        // Headers.
        case("Content-Type text/plain", 415, -32600, |x| x.bare().header("content-type", "text/plain").body(PING)).says("must be application/json"),
        case("no Content-Type", 415, -32600, |x| x.bare().body(PING)).says("must be application/json"),
        case("Accept text/html", 406, -32600, |x| x.accept("text/html")).says("Accept header must allow"),
        case("Accept with q=0 for both", 406, -32600, |x| x.accept("application/json;q=0, text/event-stream;q=0")).says("Accept header must allow"),
        case("no Accept: served", 200, None, |x| x.accept("")),
        case("foreign Origin", 403, -32600, |x| x.c.post().header("origin", "http://evil.example.com").body(PING)).says("forbidden: origin"),
        case("Origin with a path", 403, -32600, |x| x.c.post().header("origin", "http://localhost/x").body(PING)).says("forbidden: origin"),
        case("foreign Host", 403, -32600, |x| x.c.post().header("host", "evil.example.com").body(PING)).says("forbidden: host"),
        case("Host with user info", 403, -32600, |x| x.c.post().header("host", "localhost:1@evil.com").body(PING)).says("forbidden: host"),
        case("too many headers", 431, None, |x| (0..150).fold(x.c.post().body(PING), |rb, i| rb.header(format!("x-h{i}"), "v"))),
        case("PUT", 405, -32600, |x| x.c.http.put(&x.c.url).body(PING)).says("method not allowed"),
        // The session.
        case("no session id", 400, -32001, |x| x.none.post().body(PING)).says("missing Mcp-Session-Id"),
        case("unknown session id", 404, -32001, |x| x.named("nope")).says("session not found"),
        case("session id with a space", 400, -32001, |x| x.named("a b")).says("invalid Mcp-Session-Id"),
        case("session id not ASCII", 400, -32001, |x| x.none.post().header("mcp-session-id", reqwest::header::HeaderValue::from_bytes(b"s\xe9ssion").unwrap()).body(PING)).says("invalid Mcp-Session-Id"),
        case("session id of 257 bytes", 400, -32001, |x| x.named(&"a".repeat(257))).says("invalid Mcp-Session-Id"),
        case("ended session (POST)", 404, -32001, |x| x.ended.post().body(PING)).says("session not found"),
        case("ended session (GET)", 404, -32001, |x| x.ended.get()).says("session not found"),
        case("ended session (DELETE)", 404, -32001, |x| x.ended.http.delete(&x.ended.url).header("mcp-session-id", x.ended.session.clone().unwrap())).says("session not found"),
        case("DELETE without a session id", 400, -32001, |x| x.none.http.delete(&x.none.url)).says("missing Mcp-Session-Id"),
        case("two Mcp-Session-Id headers", 400, -32600, |x| x.bare().header("mcp-session-id", "other").header("content-type", "application/json").header("accept", "application/json").body(PING)).says("more than one Mcp-Session-Id header"),
        case("two MCP-Protocol-Version headers", 400, -32600, |x| x.bare().header("content-type", "application/json").header("mcp-protocol-version", "2025-11-25").header("mcp-protocol-version", "2025-06-18").body(PING)).says("unsupported protocol version"),
        case("MCP-Protocol-Version unknown", 400, -32600, |x| x.bare().header("content-type", "application/json").header("mcp-protocol-version", "1999-01-01").body(PING)).says("unsupported protocol version \"1999-01-01\""),
        case("initialize in a session", 400, -32600, |x| x.c.post().body(INIT)).says("initialize must not carry an Mcp-Session-Id"),
        case("initialize without protocolVersion", 400, -32602, |x| x.none.post().body(rpc("initialize", "{}"))).says("protocolVersion"),
        case("initialize, protocolVersion a number", 400, -32602, |x| x.none.post().body(rpc("initialize", r#"{"protocolVersion":5}"#))).says("initialize"),
        case("initialize, capabilities a number", 400, -32602, |x| x.none.post().body(rpc("initialize", r#"{"protocolVersion":"2025-11-25","capabilities":5}"#))).says("initialize: capabilities must be an object"),
        case("initialize, clientInfo a string", 400, -32602, |x| x.none.post().body(rpc("initialize", r#"{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":"x"}"#))).says("initialize: clientInfo must be an object"),
        case("initialize by position", 400, -32602, |x| x.none.post().body(rpc("initialize", r#"["2025-11-25",{},{"name":"x","version":"1"}]"#))).says("params must be an object, not an array"),
        case("initialize with capabilities over max_session_bytes", 400, -32602, |x| x.none.post().body(super::table::initialize("2025-11-25", &super::table::padded(70_000), &json!({})))).says("more than max_session_bytes (65536)").data(json!({"limit": 65536})),
        // Params that are not an object, by every method some layer reads.
        case("tools/call by position", 200, -32602, |x| x.call("tools/call", r#"["add",{"a":1,"b":2}]"#)).says("tools/call: params must be an object, not an array"),
        case("tools/call params a string", 200, -32602, |x| x.call("tools/call", r#""add""#)).says("params must be an object, not a string"),
        case("tools/call params null", 200, -32602, |x| x.call("tools/call", "null")).says("params must be an object, not null"),
        case("prompts/get by position", 200, -32602, |x| x.call("prompts/get", r#"["simple_prompt"]"#)).says("prompts/get: params must be an object"),
        case("resources/read params a number", 200, -32602, |x| x.call("resources/read", "5")).says("resources/read: params must be an object, not a number"),
        case("resources/subscribe by position", 200, -32602, |x| x.call("resources/subscribe", r#"["test://static-text"]"#)).says("resources/subscribe: params must be an object"),
        case("resources/unsubscribe params true", 200, -32602, |x| x.call("resources/unsubscribe", "true")).says("params must be an object, not a boolean"),
        case("completion/complete by position", 200, -32602, |x| x.call("completion/complete", r#"[{"type":"ref/prompt","name":"x"}]"#)).says("completion/complete: params must be an object"),
        case("logging/setLevel params a string", 200, -32602, |x| x.call("logging/setLevel", r#""debug""#)).says("logging/setLevel: params must be an object"),
        case("tasks/list by position", 200, -32602, |x| x.call("tasks/list", "[]")).says("tasks/list: params must be an object"),
        case("tasks/get by position", 200, -32602, |x| x.call("tasks/get", r#"["t1"]"#)).says("tasks/get: params must be an object"),
        case("tasks/result params a string", 200, -32602, |x| x.call("tasks/result", r#""t1""#)).says("tasks/result: params must be an object"),
        case("tasks/cancel params null", 200, -32602, |x| x.call("tasks/cancel", "null")).says("tasks/cancel: params must be an object"),
        case("notification by position", 400, -32602, |x| x.c.post().body(note("notifications/cancelled", "[7]"))).says("params must be an object"),
        // Methods and their params.
        case("unknown method", 200, -32601, |x| x.call("no/such", "{}")).says("no/such"),
        case("tools/call name a number", 200, -32602, |x| x.call("tools/call", r#"{"name":5}"#)).says("tools/call"),
        case("tools/call name twice", 200, -32602, |x| x.call("tools/call", r#"{"name":"echo","name":"add"}"#)).says("duplicate field"),
        case("tools/call arguments an array", 200, -32602, |x| x.call("tools/call", r#"{"name":"echo","arguments":["x"]}"#)),
        case("resources/read uri a number", 200, -32602, |x| x.call("resources/read", r#"{"uri":5}"#)).says("resources/read"),
        case("logging/setLevel without a level", 200, -32602, |x| x.call("logging/setLevel", "{}")).says("level"),
        case("completion of an unknown prompt", 200, -32602, |x| x.call("completion/complete", r#"{"ref":{"type":"ref/prompt","name":"nope"},"argument":{"name":"a","value":"b"}}"#)).says("unknown prompt: nope"),
        case("unknown tool", 200, -32602, |x| x.call("tools/call", r#"{"name":"nope"}"#)).says("unknown tool: nope"),
        case("unknown prompt", 200, -32602, |x| x.call("prompts/get", r#"{"name":"nope"}"#)).says("unknown prompt: nope"),
        case("unknown resource", 200, -32002, |x| x.call("resources/read", r#"{"uri":"test://nope"}"#)).says("resource not found: test://nope").data(json!({"uri": "test://nope"})),
        case("subscribe to an unknown resource", 200, -32002, |x| x.call("resources/subscribe", r#"{"uri":"test://nope"}"#)).says("resource not found"),
        case("bad cursor", 200, -32602, |x| x.call("tools/list", r#"{"cursor":"zzz"}"#)).says("invalid cursor"),
        case("unknown log level", 200, -32602, |x| x.call("logging/setLevel", r#"{"level":"loud"}"#)).says("unknown level \"loud\""),
        case("unknown task", 200, -32602, |x| x.call("tasks/get", r#"{"taskId":"nope"}"#)).says("unknown task"),
        case("a task-only tool called in the call", 200, -32601, |x| x.call("tools/call", r#"{"name":"failing_job"}"#)).says("must be called as a task"),
        case("a task of a tool that does not run as one", 200, -32601, |x| x.call("tools/call", r#"{"name":"echo","arguments":{"message":"x"},"task":{}}"#)).says("does not run as a task"),
        case("a response nobody asked for: accepted", 202, None, |x| x.c.post().body(r#"{"jsonrpc":"2.0","id":999,"result":{}}"#)),
        // Batches: 2025-03-26 only, each element answered alone.
        case("batch on 2025-11-25", 400, -32600, |x| x.c.post().body(format!("[{PING}]"))).says("batches are not supported in protocol version 2025-11-25"),
        case("batch on 2025-06-18", 400, -32600, |x| x.mid.post().body(format!("[{PING}]"))).says("batches are not supported in protocol version 2025-06-18"),
        case("empty batch", 400, -32600, |x| x.old.post().body("[]")).says("an empty batch"),
        case("batch with initialize", 200, -32600, |x| x.old.post().body(format!("[{INIT}]"))).says("initialize must not be part of a batch"),
        case("batch with a request by position", 200, -32602, |x| x.old.post().body(format!("[{}]", rpc("tools/call", r#"["add"]"#)))).says("params must be an object"),
        case("batch with a notification by position", 200, -32602, |x| x.old.post().body(format!("[{}]", note("notifications/cancelled", "[7]")))).says("params must be an object"),
        case("batch with a number", 200, -32600, |x| x.old.post().body("[5]")).says("must be a JSON object or array"),
        // GET: the standalone stream and resumption.
        case("GET without text/event-stream", 406, -32600, |x| x.c.http.get(&x.c.url).header("mcp-session-id", x.c.session.clone().unwrap()).header("accept", "application/json")).says("text/event-stream"),
        case("GET without a session id", 400, -32001, |x| x.none.get()).says("missing Mcp-Session-Id"),
        case("GET, a second standalone stream", 409, -32600, |x| x.c.get()).says("already has an open standalone stream"),
        case("GET, Last-Event-ID malformed", 400, -32600, |x| x.c.get().header("last-event-id", "nonsense")).says("invalid Last-Event-ID"),
        case("GET, Last-Event-ID of a stream never opened: nothing to replay", 200, None, |x| x.c.get().header("last-event-id", "99-1")),
    ]
}
