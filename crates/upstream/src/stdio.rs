//! The handle on one supervised stdio upstream.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_proto::methods;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::DropGuard;

use crate::json::{notification_line, replace_progress_token, request_line, to_raw};
use crate::shared::{Phase, Shared};
use crate::{Downstream, StdioSpec, UpstreamError, process, reader};

/// The protocol version offered in `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-11-25";
/// Lines queued for stdin before senders wait.
const WRITE_QUEUE: usize = 256;

/// One MCP server process under supervision, shared by many callers.
///
/// Dropping the handle kills the process group.
pub struct StdioUpstream {
    shared: Arc<Shared>,
    initialize_result: Box<RawValue>,
    pid: Option<u32>,
    _kill_on_drop: DropGuard,
}

impl fmt::Debug for StdioUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdioUpstream")
            .field("name", &self.shared.name)
            .field("pid", &self.pid)
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

impl StdioUpstream {
    /// Spawn the process in its own process group, log its stderr, and run
    /// the MCP handshake (`initialize` with protocol version
    /// [`PROTOCOL_VERSION`], these client capabilities and client info, then
    /// `notifications/initialized`).
    ///
    /// Fails with [`UpstreamError::Spawn`] if the process cannot start and
    /// with [`UpstreamError::Init`] if it exits, refuses, or does not answer
    /// within `spec.init_timeout` (then it is killed).
    pub async fn start(
        spec: &StdioSpec,
        capabilities: Value,
        client_info: Value,
        downstream: Arc<dyn Downstream>,
    ) -> Result<Self, UpstreamError> {
        let mut child = process::spawn(spec)?;
        let pid = child.id();
        let pipes = (
            child.stdin().take(),
            child.stdout().take(),
            child.stderr().take(),
        );
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            return Err(UpstreamError::Spawn(format!(
                "{}: no stdio pipes",
                spec.name
            )));
        };
        let (writer, lines) = mpsc::channel(WRITE_QUEUE);
        let shared = Arc::new(Shared::new(
            spec.name.clone(),
            downstream,
            spec.max_garbage,
            writer,
        ));
        tokio::spawn(process::write_stdin(spec.name.clone(), stdin, lines));
        tokio::spawn(reader::log_stderr(
            spec.name.clone(),
            stderr,
            spec.max_line_bytes,
        ));
        let stdout = tokio::spawn(reader::read_stdout(
            Arc::clone(&shared),
            stdout,
            spec.max_line_bytes,
        ));
        tokio::spawn(process::supervise(child, Arc::clone(&shared), stdout));
        let mut upstream = Self {
            _kill_on_drop: shared.kill.clone().drop_guard(),
            shared,
            initialize_result: to_raw(&json!({})),
            pid,
        };
        let params = to_raw(&json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": capabilities,
            "clientInfo": client_info,
        }));
        if !spec.handshake {
            return Ok(upstream);
        }
        let handshake = async {
            let result = upstream
                .request(methods::INITIALIZE, Some(&params), spec.init_timeout)
                .await?;
            upstream.notify(methods::INITIALIZED, None).await?;
            Ok(result)
        };
        match handshake.await {
            Ok(result) => upstream.initialize_result = result,
            Err(e) => {
                upstream.kill().await;
                return Err(UpstreamError::Init(init_failure(spec, e)));
            }
        }
        tracing::info!(upstream = %spec.name, pid, "upstream initialized");
        Ok(upstream)
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The `initialize` result (protocolVersion, capabilities, serverInfo,
    /// instructions…) as raw JSON.
    pub fn initialize_result(&self) -> &RawValue {
        &self.initialize_result
    }

    /// Send a request and wait up to `timeout` for its answer.
    ///
    /// The id is one of ours, mapped back when the answer comes. A
    /// `_meta.progressToken` in `params` is replaced by a token unique to the
    /// call, and progress notifications get the original back before
    /// [`Downstream::notify`]. If the future is dropped or the timeout
    /// passes, `notifications/cancelled` is sent upstream and the call
    /// forgotten.
    pub async fn request(
        &self,
        method: &str,
        params: Option<&RawValue>,
        timeout: Duration,
    ) -> Result<Box<RawValue>, UpstreamError> {
        let id = self.shared.next_id();
        let (rewritten, token) =
            match params.and_then(|p| replace_progress_token(p, || format!("switchboard-{id}"))) {
                Some((params, original, ours)) => (Some(params), Some((ours, original))),
                None => (None, None),
            };
        let params = rewritten.as_deref().or(params);
        let (tx, rx) = oneshot::channel();
        self.shared.table.lock().insert(id, tx, token)?;
        let _cancel = CancelOnDrop {
            shared: &self.shared,
            id,
        };
        // If the writer is gone the process is ending: its end answers the call.
        self.shared
            .send_line(request_line(id, method, params))
            .await;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(UpstreamError::Closed),
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    /// Send a notification upstream (e.g. `notifications/roots/list_changed`).
    pub async fn notify(
        &self,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<(), UpstreamError> {
        if let Some(cause) = self.shared.table.lock().closed() {
            return Err(cause);
        }
        if self
            .shared
            .send_line(notification_line(method, params))
            .await
        {
            Ok(())
        } else {
            Err(self
                .shared
                .table
                .lock()
                .closed()
                .unwrap_or(UpstreamError::Closed))
        }
    }

    /// Whether the process is still running (not yet reaped).
    pub fn is_alive(&self) -> bool {
        *self.shared.phase.borrow() == Phase::Running
    }

    /// The process id, while it is alive.
    pub fn pid(&self) -> Option<u32> {
        self.pid.filter(|_| self.is_alive())
    }

    /// Kill the whole process group now (SIGKILL) and reap it; calls still
    /// waiting fail with [`UpstreamError::Exited`].
    pub async fn kill(&self) {
        self.shared.kill.cancel();
        self.exited().await;
    }

    /// Resolves once the process has exited, been reaped and every call
    /// still waiting has failed; the exit status as text.
    pub async fn exited(&self) -> String {
        let mut phase = self.shared.phase.subscribe();
        let done = phase
            .wait_for(|p| matches!(p, Phase::Done(_)))
            .await
            .map(|p| p.clone());
        match done {
            Ok(Phase::Done(status)) => status,
            _ => "unknown".to_owned(),
        }
    }
}

/// Forgets a call that ends without its answer, and tells the upstream.
struct CancelOnDrop<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.shared.table.lock().forget(self.id) {
            let params = to_raw(&json!({
                "requestId": self.id,
                "reason": "the caller gave up on the request",
            }));
            self.shared
                .send_line_now(notification_line(methods::CANCELLED, Some(&params)));
        }
    }
}

fn init_failure(spec: &StdioSpec, error: UpstreamError) -> String {
    let name = &spec.name;
    match error {
        UpstreamError::Timeout => format!(
            "{name}: no answer to initialize within {:?}",
            spec.init_timeout
        ),
        UpstreamError::Exited(status) => format!(
            "{name}: the process exited during initialize ({status}); its stderr is in the log"
        ),
        UpstreamError::Rpc(error) => format!("{name}: initialize was refused: {error}"),
        other => format!("{name}: {other}"),
    }
}
