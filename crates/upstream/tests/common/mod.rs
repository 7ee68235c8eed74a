//! Helpers for the stdio upstream tests: the Python fixture server, a
//! recording downstream, and bounded polling.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_proto::RpcError;
use switchboard_upstream::{Downstream, StdioSpec, StdioUpstream, UpstreamError};

/// How long anything may take before a test gives up.
pub const BOUND: Duration = Duration::from_secs(5);
/// The timeout of ordinary calls.
pub const CALL: Duration = Duration::from_secs(10);

/// The answer the recorder gives to `elicitation/create`.
pub const ELICITED: &str = r#"{"action":"accept","content":{"answer":"42"}}"#;

/// Records what the upstream sends on its own; answers elicitations.
#[derive(Debug, Default)]
pub struct Recorder {
    pub notes: Mutex<Vec<(String, String)>>,
    pub requests: Mutex<Vec<(String, String)>>,
}

impl Recorder {
    /// Params (as JSON text) of the notifications with this method.
    pub fn notes(&self, method: &str) -> Vec<String> {
        let notes = self.notes.lock();
        notes
            .iter()
            .filter(|(m, _)| m == method)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// Whether a `notifications/message` contained `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.notes("notifications/message")
            .iter()
            .any(|p| p.contains(text))
    }
}

#[async_trait]
impl Downstream for Recorder {
    async fn notify(&self, method: &str, params: Option<&RawValue>) {
        let params = params.map_or("null", RawValue::get).to_owned();
        self.notes.lock().push((method.to_owned(), params));
    }

    async fn request(
        &self,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<Box<RawValue>, RpcError> {
        let params = params.map_or("null", RawValue::get).to_owned();
        self.requests.lock().push((method.to_owned(), params));
        match method {
            "elicitation/create" => Ok(RawValue::from_string(ELICITED.to_owned()).unwrap()),
            _ => Err(RpcError::method_not_found(method)),
        }
    }
}

/// A spec running the fixture server with `python3`.
pub fn fixture(name: &str) -> StdioSpec {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fixture_server.py"
    );
    StdioSpec::new(name, "python3").with_args([script])
}

/// Start an upstream with a fresh recorder.
pub async fn start(spec: &StdioSpec) -> (StdioUpstream, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let upstream = StdioUpstream::start(
        spec,
        json!({"elicitation": {}}),
        json!({"name": "switchboard-tests", "version": "0"}),
        recorder.clone(),
    )
    .await
    .expect("the fixture starts");
    (upstream, recorder)
}

/// JSON text as raw JSON.
pub fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap()
}

/// Call a fixture tool; its `structuredContent.value`.
pub async fn call(up: &StdioUpstream, tool: &str, args: Value) -> Result<Value, UpstreamError> {
    call_params(up, json!({"name": tool, "arguments": args}), CALL).await
}

/// `tools/call` with these params and timeout; `structuredContent.value`.
pub async fn call_params(
    up: &StdioUpstream,
    params: Value,
    timeout: Duration,
) -> Result<Value, UpstreamError> {
    let params = raw(&params.to_string());
    let result = up.request("tools/call", Some(&params), timeout).await?;
    let result: Value = serde_json::from_str(result.get()).unwrap();
    Ok(result["structuredContent"]["value"].clone())
}

/// Poll `check` until it holds, for at most [`BOUND`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The state letter of a process in /proc, `None` if there is none.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.trim_start().chars().next()
}

/// Gone from /proc, or a zombie (dead; reaping it is its parent's business).
pub fn dead(pid: u32) -> bool {
    matches!(proc_state(pid), None | Some('Z'))
}

/// The fixture's record of hung and cancelled request ids.
pub async fn cancellations(up: &StdioUpstream) -> (Vec<Value>, Vec<Value>) {
    let v = call(up, "cancelled", json!({})).await.unwrap();
    let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    (list("hung"), list("cancelled"))
}

/// Poll the fixture until it has seen a cancellation of every hung call.
pub async fn all_hung_cancelled(up: &StdioUpstream) -> Vec<Value> {
    let deadline = Instant::now() + BOUND;
    loop {
        let (hung, cancelled) = cancellations(up).await;
        if !hung.is_empty() && hung.iter().all(|h| cancelled.contains(h)) {
            return hung;
        }
        assert!(
            Instant::now() < deadline,
            "hung {hung:?}, cancelled {cancelled:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
