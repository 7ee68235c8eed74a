//! Helpers for the HTTP upstream tests: a real Switchboard server in
//! process, a recording downstream, a tool that notices being cancelled,
//! and bounded polling.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_proto::RpcError;
use switchboard_runtime::{CatalogBuilder, Tool, ToolResult};
use switchboard_testkit::TestServer;
use switchboard_upstream::{Downstream, HttpSpec, HttpUpstream, UpstreamError};

/// How long anything may take before a test gives up.
pub const BOUND: Duration = Duration::from_secs(10);
/// The timeout of ordinary calls.
pub const CALL: Duration = Duration::from_secs(10);

/// Records what the server sends on its own; answers elicitation and
/// sampling requests.
#[derive(Debug, Default)]
pub struct Recorder {
    pub notes: Mutex<Vec<(String, Value)>>,
    pub requests: Mutex<Vec<(String, Value)>>,
}

impl Recorder {
    /// Params of the notifications with this method.
    pub fn notes(&self, method: &str) -> Vec<Value> {
        let notes = self.notes.lock();
        notes
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// Params of the requests with this method.
    pub fn requests(&self, method: &str) -> Vec<Value> {
        let requests = self.requests.lock();
        requests
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, p)| p.clone())
            .collect()
    }
}

fn value(params: Option<&RawValue>) -> Value {
    params.map_or(Value::Null, |p| serde_json::from_str(p.get()).unwrap())
}

#[async_trait]
impl Downstream for Recorder {
    async fn notify(&self, method: &str, params: Option<&RawValue>) {
        let params = value(params);
        self.notes.lock().push((method.to_owned(), params));
    }

    async fn request(
        &self,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<Box<RawValue>, RpcError> {
        let params = value(params);
        self.requests.lock().push((method.to_owned(), params));
        let answer = match method {
            "elicitation/create" => json!({
                "action": "accept",
                "content": {"username": "ada", "email": "ada@example.com"}
            }),
            "sampling/createMessage" => json!({
                "role": "assistant",
                "content": {"type": "text", "text": "Paris"},
                "model": "test-model"
            }),
            _ => return Err(RpcError::method_not_found(method)),
        };
        Ok(raw(&answer))
    }
}

/// The capabilities the tests declare.
pub fn capabilities() -> Value {
    json!({"elicitation": {}, "sampling": {}})
}

/// A spec for the test server's endpoint.
pub fn spec(server: &TestServer) -> HttpSpec {
    HttpSpec::new("everything", server.url())
}

/// Start an upstream with a fresh recorder.
pub async fn start(spec: &HttpSpec) -> Result<(HttpUpstream, Arc<Recorder>), UpstreamError> {
    let recorder = Arc::new(Recorder::default());
    let upstream = HttpUpstream::start(
        spec,
        reqwest::Client::new(),
        capabilities(),
        json!({"name": "switchboard-tests", "version": "0"}),
        recorder.clone(),
    )
    .await?;
    Ok((upstream, recorder))
}

/// Start an upstream on the test server.
pub async fn connect(server: &TestServer) -> (HttpUpstream, Arc<Recorder>) {
    start(&spec(server)).await.expect("the upstream starts")
}

/// A value as raw JSON.
pub fn raw(value: &Value) -> Box<RawValue> {
    RawValue::from_string(value.to_string()).unwrap()
}

/// A request's result as a value.
pub async fn request(
    up: &HttpUpstream,
    method: &str,
    params: Value,
    timeout: Duration,
) -> Result<Value, UpstreamError> {
    let result = up.request(method, Some(&raw(&params)), timeout).await?;
    Ok(serde_json::from_str(result.get()).unwrap())
}

/// Call a tool; its result object.
pub async fn tool(up: &HttpUpstream, name: &str, args: Value) -> Result<Value, UpstreamError> {
    let params = json!({"name": name, "arguments": args});
    request(up, "tools/call", params, CALL).await
}

/// The first text content of a tool result.
pub fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or("")
}

/// Poll `check` until it holds, for at most [`BOUND`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Have `other` change the watched resource until `recorder`'s session
/// hears of it (its event stream is open); how many updates it heard of.
pub async fn until_stream_open(other: &HttpUpstream, recorder: &Recorder) -> usize {
    let heard = || recorder.notes("notifications/resources/updated").len();
    let deadline = Instant::now() + BOUND;
    loop {
        tool(other, "update_watched_resource", json!({}))
            .await
            .unwrap();
        let waited = Instant::now() + Duration::from_millis(500);
        while heard() == 0 && Instant::now() < waited {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if heard() > 0 {
            return heard();
        }
        assert!(Instant::now() < deadline, "the event stream never opened");
    }
}

/// What the `hold` tool saw.
#[derive(Debug, Default)]
pub struct Hold {
    pub started: AtomicBool,
    /// Its handler was dropped before finishing: the call was cancelled.
    pub cancelled: AtomicBool,
}

/// Sets [`Hold::cancelled`] unless disarmed.
struct OnDrop(Arc<Hold>, bool);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if self.1 {
            self.0.cancelled.store(true, Ordering::SeqCst);
        }
    }
}

/// A server with the `everything` toolset and `hold`, a tool that waits 30
/// seconds and records whether it was cancelled meanwhile.
pub async fn server_with_hold() -> (TestServer, Arc<Hold>) {
    let hold = Arc::new(Hold::default());
    let seen = hold.clone();
    let tool = Tool::new(
        "hold",
        "Waits 30 s unless cancelled",
        json!({"type": "object"}),
        move |_, _| {
            let seen = seen.clone();
            async move {
                seen.started.store(true, Ordering::SeqCst);
                let mut guard = OnDrop(seen, true);
                tokio::time::sleep(Duration::from_secs(30)).await;
                guard.1 = false;
                Ok(ToolResult::text("held"))
            }
        },
    );
    let catalog: CatalogBuilder = switchboard_everything::everything().tool(tool);
    let server = TestServer::with(switchboard_server::Config::default(), catalog).await;
    (server, hold)
}

/// A TCP proxy in front of a server whose connections can be cut.
#[derive(Debug)]
pub struct Proxy {
    pub url: String,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Forward every connection to `server`.
    pub async fn start(server: &TestServer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let target = server.addr;
        let conns = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let conns = conns.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    conns.lock().push(task.abort_handle());
                }
            }
        });
        Self { url, conns, accept }
    }

    /// Cut every connection open now.
    pub fn cut(&self) {
        for conn in self.conns.lock().drain(..) {
            conn.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
