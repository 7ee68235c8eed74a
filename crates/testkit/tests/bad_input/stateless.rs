//! The stateless era (2026-07-28) on `/mcp`: `_meta`, the mirrored
//! headers, the version, sealed `requestState`, and what the era removed.
//! A request error is 400, an unknown method 404.

use serde_json::{Value, json};
use switchboard_testkit::{MODERN, ModernClient, TestServer};

use super::table::{Case, Front, rpc};

const TASKS: &str = "io.modelcontextprotocol/tasks";
const ASKS_NAME: &str = "test_input_required_result_elicitation";

/// A default server, stateless clients, and a sealed state from a real
/// first round.
pub struct Ctx {
    server: TestServer,
    m: ModernClient,
    /// Declares elicitation.
    eliciting: ModernClient,
    /// Declares the tasks extension.
    tasks: ModernClient,
    /// The `requestState` of `ASKS_NAME`'s first round.
    state: String,
}

impl Ctx {
    pub async fn start() -> Self {
        let server = TestServer::start().await;
        let m = ModernClient::new(&server.url());
        let eliciting = ModernClient {
            capabilities: json!({"elicitation": {}}),
            ..m.clone()
        };
        let tasks = ModernClient {
            capabilities: json!({"extensions": {TASKS: {}}}),
            ..m.clone()
        };
        let (first, _) = eliciting
            .call("tools/call", json!({"name": ASKS_NAME, "arguments": {}}))
            .await;
        assert_eq!(first["result"]["resultType"], "input_required", "{first}");
        let state = first["result"]["requestState"].as_str().unwrap().to_owned();
        Self {
            server,
            m,
            eliciting,
            tasks,
            state,
        }
    }

    /// A request of `c` with `_meta` added and its headers right.
    fn on(c: &ModernClient, method: &str, params: Value) -> reqwest::RequestBuilder {
        let params = c.with_meta(params);
        c.post(method, &params).body(
            json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string(),
        )
    }

    fn meta(&self, method: &str, params: Value) -> reqwest::RequestBuilder {
        Self::on(&self.m, method, params)
    }

    /// A request with the headers of `method` and these raw params.
    fn raw(&self, method: &str, params: &str) -> reqwest::RequestBuilder {
        self.m.post(method, &json!({})).body(rpc(method, params))
    }

    /// `tools/call` of `test_x_mcp_header` (region "eu") with this
    /// `Mcp-Param-Region` header, if any.
    fn region(&self, header: Option<&str>) -> reqwest::RequestBuilder {
        let params = json!({"name": "test_x_mcp_header", "arguments": {"region": "eu"}});
        let rb = Self::on(&self.m, "tools/call", params);
        match header {
            Some(h) => rb.header("mcp-param-region", h),
            None => rb,
        }
    }

    /// A POST with these headers only (and a JSON body).
    fn headers(&self, pairs: &[(&str, &str)], body: String) -> reqwest::RequestBuilder {
        let rb = self
            .m
            .http
            .post(&self.m.url)
            .header("content-type", "application/json");
        pairs
            .iter()
            .fold(rb, |rb, (k, v)| rb.header(*k, *v))
            .body(body)
    }
}

impl Front for Ctx {
    async fn still_serves(&self) {
        let (ok, _) = self
            .m
            .call(
                "tools/call",
                json!({"name": "echo", "arguments": {"message": "still here"}}),
            )
            .await;
        assert_eq!(ok["result"]["content"][0]["text"], "still here", "{ok}");
        assert_eq!(self.server.app.live_sessions(), 0, "no session state");
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

fn v999() -> Value {
    json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "v999", "io.modelcontextprotocol/clientCapabilities": {}}})
}

fn body(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string()
}

#[rustfmt::skip]
pub fn cases() -> Vec<Case<Ctx>> {
    vec![
        // `_meta`.
        case("no _meta", 400, -32602, |x| x.raw("tools/list", "{}")).says("params._meta is required"),
        case("_meta without protocolVersion", 400, -32602, |x| x.raw("tools/list", r#"{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}"#)).says("protocolVersion\"] is required"),
        case("_meta without clientCapabilities", 400, -32602, |x| x.raw("tools/list", &json!({"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}).to_string())).says("clientCapabilities\"] is required"),
        case("_meta log level unknown", 400, -32602, |x| x.meta("tools/list", json!({"_meta": {"io.modelcontextprotocol/logLevel": "loud"}}))).says("is not a log level"),
        case("inputResponses not an object", 400, -32602, |x| x.meta("tools/list", json!({"inputResponses": 5}))).says("inputResponses must be an object"),
        case("requestState not a string", 400, -32602, |x| x.meta("tools/list", json!({"requestState": 5}))).says("requestState must be a string"),
        // Params that are not an object.
        case("tools/call by position", 400, -32602, |x| x.raw("tools/call", r#"["add",{"a":1,"b":2}]"#)).says("tools/call: params must be an object, not an array"),
        case("prompts/get params a string", 400, -32602, |x| x.raw("prompts/get", r#""simple_prompt""#)).says("prompts/get: params must be an object, not a string"),
        case("resources/read params null", 400, -32602, |x| x.raw("resources/read", "null")).says("resources/read: params must be an object, not null"),
        case("completion/complete by position", 400, -32602, |x| x.raw("completion/complete", "[]")).says("completion/complete: params must be an object"),
        case("tasks/get by position", 400, -32602, |x| x.raw("tasks/get", r#"["t1"]"#)).says("tasks/get: params must be an object"),
        case("tasks/update params a number", 400, -32602, |x| x.raw("tasks/update", "5")).says("tasks/update: params must be an object"),
        case("tasks/cancel params true", 400, -32602, |x| x.raw("tasks/cancel", "true")).says("tasks/cancel: params must be an object"),
        case("notification by position", 400, -32602, |x| x.raw("notifications/initialized", "[]")).says("params must be an object"),
        // The mirrored headers and the version.
        case("header and _meta versions differ", 400, -32020, |x| x.m.post("tools/list", &json!({})).body(body("tools/list", v999()))).says("does not match _meta protocolVersion"),
        case("no Mcp-Method", 400, -32020, |x| x.headers(&[("mcp-protocol-version", MODERN)], body("tools/list", x.m.with_meta(json!({}))))).says("Mcp-Method header is required"),
        case("Mcp-Method differs", 400, -32020, |x| x.m.post("prompts/list", &json!({})).body(body("tools/list", x.m.with_meta(json!({}))))).says("does not match the body's method"),
        case("Mcp-Method in another case", 400, -32020, |x| x.m.post("TOOLS/LIST", &json!({})).body(body("tools/list", x.m.with_meta(json!({}))))).says("does not match the body's method"),
        case("Mcp-Method twice", 400, -32020, |x| x.meta("tools/list", json!({})).header("mcp-method", "tools/list")).says("appears more than once"),
        case("no Mcp-Name", 400, -32020, |x| x.m.post("tools/call", &json!({})).body(body("tools/call", x.m.with_meta(json!({"name": "echo"}))))).says("Mcp-Name header is required"),
        case("Mcp-Name differs", 400, -32020, |x| x.m.post("tools/call", &json!({"name": "other"})).body(body("tools/call", x.m.with_meta(json!({"name": "echo"}))))).says("does not match the body"),
        case("Mcp-Name not ASCII", 400, -32020, |x| x.m.post("tools/call", &json!({})).header("mcp-name", reqwest::header::HeaderValue::from_bytes(b"ech\xf6").unwrap()).body(body("tools/call", x.m.with_meta(json!({"name": "echo"}))))).says("mcp-name: header value is not valid text"),
        case("Mcp-Name twice", 400, -32020, |x| x.meta("tools/call", json!({"name": "echo", "arguments": {"message": "x"}})).header("mcp-name", "echo")).says("appears more than once"),
        case("no Mcp-Param-Region", 400, -32020, |x| x.region(None)).says("Mcp-Param-Region header is required"),
        case("Mcp-Param-Region bad base64", 400, -32020, |x| x.region(Some("=?base64?ZXU?="))).says("malformed base64"),
        case("Mcp-Param-Region differs", 400, -32020, |x| x.region(Some("us"))).says("Mcp-Param-Region \"us\" does not match"),
        case("unsupported version", 400, -32022, |x| x.headers(&[("mcp-protocol-version", "v999"), ("mcp-method", "tools/list")], body("tools/list", v999()))).says("unsupported protocol version \"v999\"").data(json!({"requested": "v999", "supported": switchboard_proto::version::ALL_SUPPORTED})),
        case("unknown version, session-era initialize", 400, -32022, |x| x.headers(&[("mcp-protocol-version", "1999-01-01"), ("accept", "application/json")], super::table::initialize("1999-01-01", &json!({}), &json!({})))).says("unsupported protocol version \"1999-01-01\"").data(json!({"requested": "1999-01-01", "supported": switchboard_proto::version::ALL_SUPPORTED})),
        // What the era removed, and what it does not know.
        case("initialize is gone", 404, -32601, |x| x.meta("initialize", json!({}))).says("initialize"),
        case("ping is gone", 404, -32601, |x| x.meta("ping", json!({}))).says("ping"),
        case("logging/setLevel is gone", 404, -32601, |x| x.meta("logging/setLevel", json!({"level": "info"}))).says("logging/setLevel"),
        case("resources/subscribe is gone", 404, -32601, |x| x.meta("resources/subscribe", json!({"uri": "test://static-text"}))).says("resources/subscribe"),
        case("tasks/list is gone", 404, -32601, |x| Ctx::on(&x.tasks, "tasks/list", json!({}))).says("tasks/list"),
        case("unknown method", 404, -32601, |x| x.meta("no/such", json!({}))).says("no/such"),
        case("tools/call arguments an array", 400, -32602, |x| x.meta("tools/call", json!({"name": "echo", "arguments": ["x"]}))),
        case("unknown tool", 400, -32602, |x| x.meta("tools/call", json!({"name": "nope"}))).says("unknown tool: nope"),
        case("unknown resource", 400, -32602, |x| x.meta("resources/read", json!({"uri": "test://nope"}))).says("resource not found").data(json!({"uri": "test://nope"})),
        case("bad cursor", 400, -32602, |x| x.meta("tools/list", json!({"cursor": "zzz"}))).says("invalid cursor"),
        case("missing client capability", 400, -32021, |x| x.meta("tools/call", json!({"name": "test_missing_capability", "arguments": {}}))).says("sampling").data(json!({"requiredCapabilities": {"sampling": {}}})),
        case("a task-only tool without the tasks extension", 400, -32021, |x| x.meta("tools/call", json!({"name": "failing_job", "arguments": {}}))).says(TASKS),
        case("tasks/get without the tasks extension", 400, -32021, |x| x.meta("tasks/get", json!({"taskId": "nope"}))).says(TASKS),
        case("unknown task", 400, -32602, |x| Ctx::on(&x.tasks, "tasks/get", json!({"taskId": "nope"}))).says("unknown task"),
        case("subscriptions/listen without text/event-stream", 406, -32600, |x| x.headers(&[("mcp-protocol-version", MODERN), ("mcp-method", "subscriptions/listen"), ("accept", "application/json")], body("subscriptions/listen", x.m.with_meta(json!({}))))).says("text/event-stream"),
        // Sealed request state and input responses.
        case("requestState tampered", 400, -32602, |x| x.meta("tools/call", json!({"name": ASKS_NAME, "arguments": {}, "requestState": tamper(&x.state)}))).says("requestState failed verification"),
        case("requestState malformed", 400, -32602, |x| x.meta("tools/call", json!({"name": "echo", "arguments": {"message": "x"}, "requestState": "sb1.AAAA.BBBB"}))).says("requestState"),
        case("requestState of another tool", 400, -32602, |x| Ctx::on(&x.eliciting, "tools/call", json!({"name": "echo", "arguments": {"message": "x"}, "requestState": x.state}))).says("requestState belongs to another request"),
        case("input response of the wrong shape", 400, -32602, |x| Ctx::on(&x.eliciting, "tools/call", json!({"name": ASKS_NAME, "arguments": {}, "inputResponses": {"user_name": 12345}}))),
        // The shape of the exchange.
        case("a response without a session", 400, -32600, |x| x.m.post("x", &json!({})).body(r#"{"jsonrpc":"2.0","id":7,"result":{}}"#)).says("without a session"),
        case("a batch", 400, -32600, |x| x.m.post("tools/list", &json!({})).body(format!("[{}]", body("tools/list", x.m.with_meta(json!({})))))).says("batches are not supported in protocol version 2026-07-28"),
        case("malformed JSON", 400, -32700, |x| x.m.post("tools/list", &json!({})).body("{")).says("parse error"),
        case("GET", 405, -32600, |x| x.m.http.get(&x.m.url).header("mcp-protocol-version", MODERN)).says("method not allowed"),
        case("DELETE", 405, -32600, |x| x.m.http.delete(&x.m.url).header("mcp-protocol-version", MODERN)).says("method not allowed"),
    ]
}

/// `state` with one character of its payload changed.
fn tamper(state: &str) -> String {
    let mut bytes = state.as_bytes().to_vec();
    let at = state.find('.').unwrap() + 3;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}
