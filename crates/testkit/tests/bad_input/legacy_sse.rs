//! The 2024-11-05 HTTP+SSE transport: `GET /sse` opens the session and its
//! stream, `POST /messages?sessionId=…` sends to it. What is refused
//! before the message is read gets its own status; a request's error is
//! accepted (202) and arrives on the stream.

use serde_json::json;
use switchboard_testkit::{SseReader, TestServer};
use tokio::sync::Mutex;

use super::table::{Case, Front, big, note, response_on, rpc};

/// A default server with one HTTP+SSE session, and one Streamable HTTP
/// session (which has no `/messages`).
pub struct Ctx {
    server: TestServer,
    http: reqwest::Client,
    /// `/messages?sessionId=…` of the session.
    messages: String,
    stream: Mutex<SseReader>,
    /// The id of a session of `/mcp`.
    streamable: String,
}

impl Ctx {
    pub async fn start() -> Self {
        let server = TestServer::start().await;
        let http = reqwest::Client::new();
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
        let init = super::table::initialize("2024-11-05", &json!({}), &json!({"name": "t"}));
        let ctx = Self {
            http,
            messages,
            stream: Mutex::new(stream),
            streamable: String::new(),
            server,
        };
        assert_eq!(ctx.post(&init).send().await.unwrap().status(), 202);
        let v = response_on(&mut *ctx.stream.lock().await).await;
        assert_eq!(v["result"]["protocolVersion"], "2024-11-05", "{v}");
        let mut c = ctx.server.client();
        c.initialize(json!({})).await;
        Self {
            streamable: c.session.unwrap(),
            ..ctx
        }
    }

    /// A JSON POST to the session's `/messages`.
    fn post(&self, body: &str) -> reqwest::RequestBuilder {
        self.to(&self.messages, body)
    }

    /// A JSON POST of `body` to `url`.
    fn to(&self, url: &str, body: &str) -> reqwest::RequestBuilder {
        self.http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned())
    }

    fn base(&self) -> String {
        format!("http://{}", self.server.addr)
    }
}

impl Front for Ctx {
    fn stream(&self) -> Option<&Mutex<SseReader>> {
        Some(&self.stream)
    }

    async fn still_serves(&self) {
        let ping = r#"{"jsonrpc":"2.0","id":"alive","method":"ping"}"#;
        assert_eq!(self.post(ping).send().await.unwrap().status(), 202);
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

const PING: &str = r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#;

#[rustfmt::skip]
pub fn cases() -> Vec<Case<Ctx>> {
    vec![
        // GET /sse.
        case("GET /sse without text/event-stream", 406, -32600, |x| x.http.get(format!("{}/sse", x.base())).header("accept", "application/json")).says("text/event-stream"),
        case("GET /sse, foreign Host", 403, -32600, |x| x.http.get(format!("{}/sse", x.base())).header("accept", "text/event-stream").header("host", "evil.example.com")).says("forbidden: host"),
        // POST /messages, refused before the message is read.
        case("no sessionId", 400, -32001, |x| x.to(&format!("{}/messages", x.base()), PING)).says("missing Mcp-Session-Id"),
        case("unknown sessionId", 404, -32001, |x| x.to(&format!("{}/messages?sessionId=nope", x.base()), PING)).says("session not found"),
        case("a Streamable HTTP session's id", 404, -32001, |x| x.to(&format!("{}/messages?sessionId={}", x.base(), x.streamable), PING)).says("session not found"),
        case("foreign Origin", 403, -32600, |x| x.post(PING).header("origin", "http://evil.example.com")).says("forbidden: origin"),
        case("Content-Type text/plain", 415, -32600, |x| x.http.post(&x.messages).header("content-type", "text/plain").body(PING)).says("must be application/json"),
        case("malformed JSON", 400, -32700, |x| x.post("{")).says("parse error"),
        case("empty body", 400, -32700, |x| x.post("")).says("empty body"),
        case("jsonrpc 1.0", 400, -32600, |x| x.post(r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#)).says(r#""jsonrpc" must be "2.0""#),
        case("id an object", 400, -32600, |x| x.post(r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#)).says(r#""id" must be a string or a number"#),
        case("a batch", 400, -32600, |x| x.post(&format!("[{PING}]"))).says("batches are not supported in protocol version 2024-11-05"),
        case("body over max_body_bytes", 413, -32600, |x| x.post(&big(5 << 20))).says("larger than 4194304 bytes"),
        case("notification by position", 400, -32602, |x| x.post(&note("notifications/cancelled", "[7]"))).says("params must be an object"),
        case("a response nobody asked for: accepted", 202, None, |x| x.post(r#"{"jsonrpc":"2.0","id":999,"result":{}}"#)),
        // Accepted; the error on the stream.
        case("tools/call by position", 202, -32602, |x| x.post(&rpc("tools/call", r#"["add",{"a":1,"b":2}]"#))).says("tools/call: params must be an object, not an array"),
        case("prompts/get params a string", 202, -32602, |x| x.post(&rpc("prompts/get", r#""simple_prompt""#))).says("prompts/get: params must be an object"),
        case("resources/read params null", 202, -32602, |x| x.post(&rpc("resources/read", "null"))).says("resources/read: params must be an object"),
        case("resources/subscribe by position", 202, -32602, |x| x.post(&rpc("resources/subscribe", r#"["test://static-text"]"#))).says("resources/subscribe: params must be an object"),
        case("completion/complete by position", 202, -32602, |x| x.post(&rpc("completion/complete", "[]"))).says("completion/complete: params must be an object"),
        case("logging/setLevel by position", 202, -32602, |x| x.post(&rpc("logging/setLevel", r#"["debug"]"#))).says("logging/setLevel: params must be an object"),
        case("initialize by position", 202, -32602, |x| x.post(&rpc("initialize", r#"["2024-11-05",{},{"name":"x","version":"1"}]"#))).says("initialize: params must be an object"),
        case("initialize, capabilities an array", 202, -32602, |x| x.post(&rpc("initialize", r#"{"protocolVersion":"2024-11-05","capabilities":[]}"#))).says("initialize: capabilities must be an object"),
        case("initialize with capabilities over max_session_bytes", 202, -32602, |x| x.post(&super::table::initialize("2024-11-05", &super::table::padded(70_000), &json!({})))).says("more than max_session_bytes (65536)").data(json!({"limit": 65536})),
        case("unknown method", 202, -32601, |x| x.post(&rpc("no/such", "{}"))).says("no/such"),
        case("tools/call name twice", 202, -32602, |x| x.post(&rpc("tools/call", r#"{"name":"echo","name":"add"}"#))).says("duplicate field"),
        case("unknown tool", 202, -32602, |x| x.post(&rpc("tools/call", r#"{"name":"nope"}"#))).says("unknown tool: nope"),
        case("unknown resource", 202, -32002, |x| x.post(&rpc("resources/read", r#"{"uri":"test://nope"}"#))).says("resource not found: test://nope"),
        case("bad cursor", 202, -32602, |x| x.post(&rpc("tools/list", r#"{"cursor":"zzz"}"#))).says("invalid cursor"),
        case("unknown log level", 202, -32602, |x| x.post(&rpc("logging/setLevel", r#"{"level":"loud"}"#))).says("unknown level \"loud\""),
    ]
}
