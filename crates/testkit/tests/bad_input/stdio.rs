//! The stdio front (`switchboard stdio`), in process on a pair of pipes:
//! every bad line is answered with one error line (id `null` when the
//! line's id is unknown or absent), and the next line is served.

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_server::StdioOptions;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::table::{Case, STDIO, big, check, deep, note, rpc};

/// Longest line the front takes here.
const MAX_LINE: usize = 256 << 10;
/// `max_session_bytes` here.
const MAX_SESSION_BYTES: usize = 8192;

/// The client's ends of the pipes, and the front.
pub struct Ctx {
    input: Mutex<DuplexStream>,
    output: Mutex<Lines<BufReader<DuplexStream>>>,
    front: JoinHandle<std::io::Result<()>>,
}

impl Ctx {
    pub async fn start() -> Self {
        let catalog = Arc::new(switchboard_everything::everything().build().unwrap());
        let (input, front_in) = tokio::io::duplex(1 << 16);
        let (front_out, output) = tokio::io::duplex(1 << 16);
        let mut options = StdioOptions::new(MAX_LINE);
        options.max_session_bytes = MAX_SESSION_BYTES;
        let front = tokio::spawn(switchboard_server::serve_stdio_with(
            catalog, front_in, front_out, options,
        ));
        let ctx = Self {
            input: Mutex::new(input),
            output: Mutex::new(BufReader::new(output).lines()),
            front,
        };
        let init = super::table::initialize("2025-06-18", &json!({}), &json!({"name": "t"}));
        let v = ctx.exchange(init.as_bytes()).await;
        assert_eq!(v["result"]["protocolVersion"], "2025-06-18", "{v}");
        ctx
    }

    /// Write `line` and read the next response line.
    async fn exchange(&self, line: &[u8]) -> Value {
        let mut input = self.input.lock().await;
        input.write_all(line).await.unwrap();
        input.write_all(b"\n").await.unwrap();
        drop(input);
        let mut output = self.output.lock().await;
        loop {
            let line = output.next_line().await.unwrap().expect("an answer line");
            let v: Value = serde_json::from_str(&line).expect("a JSON line");
            if v.get("method").is_none() {
                return v;
            }
        }
    }

    /// Run every case, in order; after each, a `ping` is served. Returns
    /// how many ran.
    pub async fn run(&self, cases: &[Case<Ctx, Vec<u8>>]) -> usize {
        for case in cases {
            eprintln!("case: {}", case.name);
            let answer = self.exchange(&(case.send)(self)).await;
            check(case, STDIO, &answer.to_string());
            let pong = self
                .exchange(br#"{"jsonrpc":"2.0","id":"alive","method":"ping"}"#)
                .await;
            assert_eq!(pong["result"], json!({}), "after {}: {pong}", case.name);
        }
        cases.len()
    }

    /// End of input: the front returns cleanly.
    pub async fn close(self) {
        drop(self.input);
        self.front.await.unwrap().unwrap();
    }
}

fn case(name: &'static str, code: i64, send: fn(&Ctx) -> Vec<u8>) -> Case<Ctx, Vec<u8>> {
    Case::new(name, STDIO, code, send)
}

/// A stateless request's `_meta`.
const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

#[rustfmt::skip]
pub fn cases() -> Vec<Case<Ctx, Vec<u8>>> {
    vec![
        // The line: JSON, the JSON-RPC envelope, size and depth.
        case("malformed JSON", -32700, |_| r#"{"jsonrpc":"#.into()).says("parse error"),
        case("not UTF-8", -32700, |_| b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"\xff\"}".to_vec()).says("UTF-8"),
        case("not JSON at all", -32700, |_| "hello".into()).says("parse error"),
        case("a number", -32600, |_| "42".into()).says("must be a JSON object or array"),
        case("jsonrpc 1.0", -32600, |_| r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#.into()).says(r#""jsonrpc" must be "2.0""#),
        case("no method", -32600, |_| r#"{"jsonrpc":"2.0","id":7}"#.into()).says(r#"needs "method""#),
        case("id an object", -32600, |_| r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#.into()).says(r#""id" must be a string or a number"#),
        case("a batch", -32600, |_| format!("[{}]", rpc("ping", "{}")).into()).says("batches are not supported on stdio"),
        case("an empty batch", -32600, |_| "[]".into()).says("an empty batch"),
        case("nested 5000 deep", -32700, |_| deep(5000).into()).says("nested deeper than 128"),
        case("line over the limit", -32600, |_| big(MAX_LINE).into()).says("message longer than 262144 bytes"),
        // Params that are not an object.
        case("tools/call by position", -32602, |_| rpc("tools/call", r#"["add",{"a":1,"b":2}]"#).into()).says("tools/call: params must be an object, not an array"),
        case("prompts/get params a string", -32602, |_| rpc("prompts/get", r#""simple_prompt""#).into()).says("prompts/get: params must be an object"),
        case("resources/read params null", -32602, |_| rpc("resources/read", "null").into()).says("resources/read: params must be an object"),
        case("resources/subscribe by position", -32602, |_| rpc("resources/subscribe", r#"["test://static-text"]"#).into()).says("resources/subscribe: params must be an object"),
        case("completion/complete by position", -32602, |_| rpc("completion/complete", "[]").into()).says("completion/complete: params must be an object"),
        case("logging/setLevel params a number", -32602, |_| rpc("logging/setLevel", "5").into()).says("logging/setLevel: params must be an object"),
        case("initialize by position", -32602, |_| rpc("initialize", r#"["2025-06-18",{},{"name":"x","version":"1"}]"#).into()).says("initialize: params must be an object"),
        case("notification by position", -32602, |_| note("notifications/cancelled", "[7]").into()).says("params must be an object"),
        case("stateless request by position", -32602, |_| rpc("tools/call", &format!(r#"["add",{{{META}}}]"#)).into()).says("params must be an object"),
        // Methods and their params.
        case("initialize with capabilities over max_session_bytes", -32602, |_| super::table::initialize("2025-06-18", &super::table::padded(9000), &json!({})).into()).says("more than max_session_bytes (8192)").data(json!({"limit": MAX_SESSION_BYTES})),
        case("initialize, clientInfo a number", -32602, |_| rpc("initialize", r#"{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":5}"#).into()).says("initialize: clientInfo must be an object"),
        case("initialize without protocolVersion", -32602, |_| rpc("initialize", "{}").into()).says("protocolVersion"),
        case("unknown method", -32601, |_| rpc("no/such", "{}").into()).says("no/such"),
        case("tools/call name twice", -32602, |_| rpc("tools/call", r#"{"name":"echo","name":"add"}"#).into()).says("duplicate field"),
        case("unknown tool", -32602, |_| rpc("tools/call", r#"{"name":"nope"}"#).into()).says("unknown tool: nope"),
        case("unknown resource", -32002, |_| rpc("resources/read", r#"{"uri":"test://nope"}"#).into()).says("resource not found: test://nope"),
        case("subscribe to an unknown resource", -32002, |_| rpc("resources/subscribe", r#"{"uri":"test://nope"}"#).into()).says("resource not found"),
        case("bad cursor", -32602, |_| rpc("tools/list", r#"{"cursor":"zzz"}"#).into()).says("invalid cursor"),
        case("unknown log level", -32602, |_| rpc("logging/setLevel", r#"{"level":"loud"}"#).into()).says("unknown level \"loud\""),
        case("stateless request without clientCapabilities", -32602, |_| rpc("tools/list", r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}"#).into()).says("clientCapabilities"),
        case("stateless, unsupported version", -32022, |_| rpc("tools/list", r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"v999","io.modelcontextprotocol/clientCapabilities":{}}}"#).into()).says("unsupported protocol version \"v999\""),
        case("stateless, ping is gone", -32601, |_| rpc("ping", &format!("{{{META}}}")).into()).says("ping"),
        case("stateless, requestState malformed", -32602, |_| rpc("tools/call", &format!(r#"{{"name":"echo","arguments":{{"message":"x"}},"requestState":"sb1.AAAA.BBBB",{META}}}"#)).into()).says("requestState"),
        case("stateless unknown tool", -32602, |_| rpc("tools/call", &format!(r#"{{"name":"nope",{META}}}"#)).into()).says("unknown tool: nope"),
    ]
}
