//! The tasks reading the process's stdout (messages) and stderr (logs).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::value::RawValue;
use switchboard_proto::{
    ErrorCode, Message, RequestId, RpcError, error_json, methods, parse_message, response_json,
};
use tokio::process::{ChildStderr, ChildStdout};
use tokio_util::codec::FramedRead;

use crate::json::{RawObject, cancelled_request_id, progress_token, rpc_error, truncate};
use crate::lines::{BadLine, Lines};
use crate::shared::{Answer, Shared};

/// How long a process may live on after closing its stdout.
const EOF_GRACE: Duration = Duration::from_secs(2);
/// Requests from one upstream to the client in flight at once.
const MAX_INBOUND: usize = 64;
/// How much of a bad line goes into a log line or an error.
const SHOWN: usize = 200;

/// Read messages until stdout closes or the process is cut off.
pub(crate) async fn read_stdout(shared: Arc<Shared>, stdout: ChildStdout, max_line_bytes: usize) {
    let mut lines = FramedRead::new(stdout, Lines::new(max_line_bytes));
    let mut garbage = 0u32;
    while let Some(item) = lines.next().await {
        let problem = match item {
            Ok(Ok(line)) => match handle_line(&shared, &line).await {
                Ok(()) => continue,
                Err(problem) => problem,
            },
            Ok(Err(BadLine::TooLong)) => format!("a line longer than {max_line_bytes} bytes"),
            Ok(Err(BadLine::NotUtf8)) => "a line that is not UTF-8".to_owned(),
            Err(e) => {
                tracing::warn!(upstream = %shared.name, "reading stdout failed: {e}");
                break;
            }
        };
        garbage += 1;
        tracing::warn!(upstream = %shared.name, garbage, "invalid output: {problem}");
        if garbage > shared.max_garbage {
            shared.misbehave(format!(
                "{garbage} invalid lines on stdout; the last: {problem}"
            ));
            return;
        }
    }
    tokio::select! {
        () = shared.reaped() => {}
        () = tokio::time::sleep(EOF_GRACE) => {
            tracing::warn!(upstream = %shared.name, "stdout closed but the process runs on; killing it");
            shared.kill.cancel();
        }
    }
}

/// One line from stdout; `Err` describes garbage.
async fn handle_line(shared: &Arc<Shared>, line: &str) -> Result<(), String> {
    if line.trim().is_empty() {
        return Ok(());
    }
    let message =
        parse_message(line.as_bytes()).map_err(|e| format!("{e}: {}", truncate(line, SHOWN)))?;
    match message {
        Message::Response { id, outcome } => on_response(shared, &id, outcome),
        Message::Request { id, method, params } => on_request(shared, id, method, params).await,
        Message::Notification { method, params } => {
            on_notification(shared, &method, params).await;
            Ok(())
        }
    }
}

fn on_response(
    shared: &Shared,
    id: &RequestId,
    outcome: Result<Box<RawValue>, Box<RawValue>>,
) -> Result<(), String> {
    let unknown = || format!("an answer to id {id}, which was never sent");
    let ours: u64 = id.as_json().parse().map_err(|_| unknown())?;
    let answer = shared.table.lock().answer(ours);
    match answer {
        Answer::Waiting(tx) => {
            let _ = tx.send(outcome.map_err(|e| crate::UpstreamError::Rpc(rpc_error(&e))));
            Ok(())
        }
        Answer::Late => {
            tracing::debug!(upstream = %shared.name, %id, "late answer to a cancelled call");
            Ok(())
        }
        Answer::Unknown => Err(unknown()),
    }
}

async fn on_request(
    shared: &Arc<Shared>,
    id: RequestId,
    method: String,
    params: Option<Box<RawValue>>,
) -> Result<(), String> {
    if method == methods::PING {
        shared.send_line(response_json(&id, "{}")).await;
        return Ok(());
    }
    let key = id.as_json().to_owned();
    let busy = {
        let mut table = shared.table.lock();
        if table.has_inbound(&key) {
            return Err(format!("a request reusing id {id}, still in flight"));
        }
        let busy = table.inbound_len() >= MAX_INBOUND;
        if !busy {
            // Registered while the table is locked, so that the task cannot
            // finish first and find itself unknown.
            let task = tokio::spawn(answer_inbound(
                Arc::clone(shared),
                id.clone(),
                method,
                params,
            ));
            table.add_inbound(key, task.abort_handle());
        }
        busy
    };
    if busy {
        let error = RpcError::new(ErrorCode::SERVER_BUSY, "too many requests in flight");
        shared.send_line(error_json(Some(&id), &error)).await;
    }
    Ok(())
}

/// Ask the downstream, and answer the upstream unless it cancelled.
async fn answer_inbound(
    shared: Arc<Shared>,
    id: RequestId,
    method: String,
    params: Option<Box<RawValue>>,
) {
    let result = shared.downstream.request(&method, params.as_deref()).await;
    if !shared.table.lock().finish_inbound(id.as_json()) {
        return;
    }
    let line = match result {
        Ok(result) => response_json(&id, result.get()),
        Err(error) => error_json(Some(&id), &error),
    };
    shared.send_line(line).await;
}

async fn on_notification(shared: &Shared, method: &str, params: Option<Box<RawValue>>) {
    match method {
        methods::PROGRESS => {
            let Some(params) = restore_progress_token(shared, params.as_deref()) else {
                tracing::debug!(upstream = %shared.name, "progress for no call in flight, dropped");
                return;
            };
            shared.downstream.notify(method, Some(&params)).await;
        }
        methods::CANCELLED => {
            let cancelled = cancelled_request_id(params.as_deref())
                .is_some_and(|id| shared.table.lock().cancel_inbound(&id));
            if !cancelled {
                tracing::debug!(upstream = %shared.name, "cancellation of nothing in flight");
            }
        }
        _ => shared.downstream.notify(method, params.as_deref()).await,
    }
}

/// Progress params with our token swapped back for the caller's.
fn restore_progress_token(shared: &Shared, params: Option<&RawValue>) -> Option<Box<RawValue>> {
    let mut params = RawObject::parse(params?)?;
    let original = shared
        .table
        .lock()
        .original_token(&progress_token(&params)?)?;
    params.set("progressToken", &original);
    Some(params.to_raw())
}

/// Log stderr lines until it closes.
pub(crate) async fn log_stderr(name: String, stderr: ChildStderr, max_line_bytes: usize) {
    let mut lines = FramedRead::new(stderr, Lines::new(max_line_bytes));
    while let Some(item) = lines.next().await {
        match item {
            Ok(Ok(line)) => tracing::info!(upstream = %name, "stderr: {}", truncate(&line, 4096)),
            Ok(Err(bad)) => tracing::warn!(upstream = %name, "stderr: unreadable line ({bad:?})"),
            Err(_) => break,
        }
    }
}
