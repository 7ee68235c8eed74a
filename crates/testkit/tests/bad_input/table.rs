//! The machinery of the table: a [`Case`] (a name, what is sent, and the
//! answer it must get), how an answer is checked, and the runner of the
//! HTTP fronts. Each case runs against a server that has already served
//! others, and the server must serve a good request after it.

use std::future::Future;

use serde_json::Value;
use switchboard_testkit::{McpClient, Reply, SseReader};
use tokio::sync::Mutex;

/// The "status" of a case on the stdio front, which has none.
pub const STDIO: u16 = 0;

/// One bad input and the answer it must get.
pub struct Case<C, R = reqwest::RequestBuilder> {
    pub name: &'static str,
    /// The HTTP status ([`STDIO`] on the stdio front). On HTTP+SSE, 202
    /// with a code means the error arrives on the session's stream.
    pub status: u16,
    /// The JSON-RPC error code; `None` where the answer carries no
    /// JSON-RPC error (a success, or no JSON-RPC body at all).
    pub code: Option<i64>,
    /// A part of the error message (of the body, where it has no JSON-RPC
    /// error), saying what was wrong.
    pub says: &'static str,
    /// Members `error.data` must have, with these values.
    pub data: Option<Value>,
    /// Build what is sent.
    pub send: fn(&C) -> R,
}

impl<C, R> Case<C, R> {
    pub fn new(
        name: &'static str,
        status: u16,
        code: impl Into<Option<i64>>,
        send: fn(&C) -> R,
    ) -> Self {
        Self {
            name,
            status,
            code: code.into(),
            says: "",
            data: None,
            send,
        }
    }

    /// The message must contain `part`.
    pub fn says(mut self, part: &'static str) -> Self {
        self.says = part;
        self
    }

    /// `error.data` must have these members.
    pub fn data(mut self, members: Value) -> Self {
        self.data = Some(members);
        self
    }

    /// One line of the printed table.
    pub fn row(&self, front: &str) -> String {
        let status = match self.status {
            STDIO => "stdio".to_owned(),
            s => s.to_string(),
        };
        let code = self.code.map_or("—".to_owned(), |c| c.to_string());
        format!("{front:<10} {status:>5} {code:>7}  {}", self.name)
    }
}

/// Check one answer: its status, and the JSON-RPC error of its body (of
/// a batch's one answer).
pub fn check<C, R>(case: &Case<C, R>, status: u16, body: &str) {
    let name = case.name;
    assert_eq!(status, case.status, "{name}: status (body {body:?})");
    let v = match serde_json::from_str(body).unwrap_or(Value::Null) {
        Value::Array(mut answers) if answers.len() == 1 => answers.remove(0),
        v => v,
    };
    let Some(code) = case.code else {
        // No JSON-RPC error; a body of another kind (the admin API's
        // `{"error": …}`) says what was wrong.
        if v["jsonrpc"] == "2.0" {
            assert!(v.get("error").is_none(), "{name}: no error, got {body}");
        }
        assert!(
            body.contains(case.says),
            "{name}: says {:?}: {body}",
            case.says
        );
        return;
    };
    assert_eq!(v["jsonrpc"], "2.0", "{name}: a JSON-RPC body, got {body:?}");
    // Every case's request has id 7: named when it was read, else null.
    assert!(
        v["id"] == 7 || v["id"].is_null(),
        "{name}: the request's id or null, in {body}"
    );
    assert_eq!(v["error"]["code"], code, "{name}: the code, in {body}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{name}: a message, in {body}");
    assert!(
        message.contains(case.says),
        "{name}: the message says {:?}: {message:?}",
        case.says
    );
    if let Some(Value::Object(members)) = &case.data {
        for (key, want) in members {
            assert_eq!(
                &v["error"]["data"][key], want,
                "{name}: data.{key}, in {body}"
            );
        }
    }
}

/// What an HTTP front's context offers the runner.
pub trait Front {
    /// The stream a 202's error arrives on (HTTP+SSE).
    fn stream(&self) -> Option<&Mutex<SseReader>> {
        None
    }

    /// Panics unless the server still serves a good request.
    fn still_serves(&self) -> impl Future<Output = ()>;
}

/// Run every case of an HTTP front, in order; after each, the server
/// must still serve. Returns how many ran.
pub async fn run<C: Front>(ctx: &C, cases: &[Case<C>]) -> usize {
    for case in cases {
        // Shown with a failure: which case it was.
        eprintln!("case: {}", case.name);
        let resp = (case.send)(ctx)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let status = resp.status().as_u16();
        let mut body = body_of(resp).await;
        if status == 202 && case.code.is_some() {
            let stream = ctx.stream().expect("a front whose 202 answers on a stream");
            body = response_on(&mut *stream.lock().await).await.to_string();
        }
        check(case, status, &body);
        ctx.still_serves().await;
    }
    cases.len()
}

/// The body of a response: for an event stream, the JSON-RPC response on
/// it (none if it ends without one).
async fn body_of(resp: reqwest::Response) -> String {
    match McpClient::classify(resp).await {
        Reply::Json(v) => v.to_string(),
        Reply::Sse(mut stream) => next_response(&mut stream)
            .await
            .map_or(String::new(), |v| v.to_string()),
        Reply::Other(_, body) => body,
    }
}

/// The next JSON-RPC response on a stream (notifications skipped).
pub async fn response_on(stream: &mut SseReader) -> Value {
    next_response(stream)
        .await
        .expect("the stream ended without a response")
}

async fn next_response(stream: &mut SseReader) -> Option<Value> {
    while let Some(event) = stream.next().await {
        if let Some(v) = event.json().filter(|v| v.get("method").is_none()) {
            return Some(v);
        }
    }
    None
}

/// A JSON-RPC request with these raw params (id 7).
pub fn rpc(method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":7,"method":"{method}","params":{params}}}"#)
}

/// A JSON-RPC notification with these raw params.
pub fn note(method: &str, params: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"{method}","params":{params}}}"#)
}

/// A body of about `n` bytes, over any limit the test sets.
pub fn big(n: usize) -> String {
    rpc("ping", &format!(r#"{{"pad":"{}"}}"#, "a".repeat(n)))
}

/// A `ping` nested `depth` arrays deep.
pub fn deep(depth: usize) -> String {
    rpc(
        "ping",
        &format!(r#"{{"x":{}{}}}"#, "[".repeat(depth), "]".repeat(depth)),
    )
}

/// Capabilities whose JSON takes `n` bytes or a little more.
pub fn padded(n: usize) -> Value {
    serde_json::json!({"experimental": {"pad": "x".repeat(n)}})
}

/// An `initialize` of `version` with these capabilities and client info.
pub fn initialize(version: &str, capabilities: &Value, info: &Value) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": capabilities, "clientInfo": info}})
    .to_string()
}

/// The bytes a session keeps of an `initialize`: its capabilities and
/// client info, as sent.
pub fn kept(capabilities: &Value, info: &Value) -> usize {
    capabilities.to_string().len() + info.to_string().len()
}
