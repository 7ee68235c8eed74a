//! The experimental tasks of 2025-11-25 on a session, on the same store and
//! runner as the 2026-07-28 extension: `tools/call` with `params.task`
//! answers `{task}`, then `tasks/get`, `tasks/result` (waits for the end,
//! answers the tool's result or error), `tasks/cancel`, `tasks/list` (the
//! caller's principal's live tasks, by id, paged by cursor). Not here:
//! `notifications/tasks/status`, and input requests during a task (such a
//! task stays `input_required` and `tasks/result` refuses it).

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use switchboard_proto::params::{TaskRef, ToolCall};
use switchboard_proto::{ErrorCode, RpcError, methods};
use switchboard_runtime::{Access, TaskSupport};
use switchboard_store::{TaskRecord, TaskStatus};
use switchboard_tenancy::Principal;

use crate::records::{Call, cancel, create, owned, take_over_if_orphaned};
use crate::service::POLL_INTERVAL_MS;
use switchboard_http::error::TransportError;
use switchboard_stateless::names::{CANCEL, GET};

use crate::service::Tasks;

pub(crate) const RESULT: &str = "tasks/result";
pub(crate) const LIST: &str = "tasks/list";
/// Tasks in one page of `tasks/list`.
const PAGE: usize = 50;
const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";

/// The `tasks` server capability.
pub fn capability() -> Value {
    json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}})
}

type Answer = Option<Result<Value, RpcError>>;

/// Whether `method` is one of the task methods of 2025-11-25 (the task
/// augmentation of `tools/call` aside).
pub fn is_method(method: &str) -> bool {
    matches!(method, LIST | GET | RESULT | CANCEL)
}

impl Tasks {
    /// Serve a request of a 2025-11-25 session if it is about tasks; `None`
    /// for anything else (the usual path serves it). `named` is what the
    /// request names, as the front read it from `params`
    /// ([`switchboard_proto::params::name_of`]); a call is looked up by it.
    pub async fn serve_legacy(
        &self,
        who: &Principal,
        capabilities: &Value,
        method: &str,
        named: Option<&str>,
        params: Option<&RawValue>,
    ) -> Result<Answer, TransportError> {
        let tasks = self;
        match method {
            // Named by the reader the gate and the catalog use; params it
            // refuses name nothing and are the catalog's to answer.
            methods::TOOLS_CALL => match named {
                Some(name) => call(tasks, who, capabilities, name, params).await,
                None => Ok(None),
            },
            LIST => list(tasks, who, params).await.map(Some),
            GET | RESULT | CANCEL => {
                let id = match TaskRef::read(method, params) {
                    Ok(r) => r.task_id,
                    Err(e) => return Ok(Some(Err(e))),
                };
                match task_method(tasks, who, method, &id).await {
                    Err(TransportError::UnknownTask) => {
                        Ok(Some(Err(TransportError::UnknownTask.rpc())))
                    }
                    other => other.map(Some),
                }
            }
            _ => Ok(None),
        }
    }
}

/// One page of the caller's tasks; `cursor` is the last id of the page
/// before (opaque to the client).
async fn list(
    tasks: &Tasks,
    who: &Principal,
    params: Option<&RawValue>,
) -> Result<Result<Value, RpcError>, TransportError> {
    #[derive(Deserialize)]
    struct Page {
        #[serde(default)]
        cursor: Option<String>,
    }
    let after = match switchboard_proto::params::parse::<Page>(LIST, params) {
        Ok(p) => p.cursor,
        Err(e) => return Ok(Err(e)),
    };
    // Anonymous clients of a tenant share one binding: listing would hand
    // each one the others' task ids. They see none (their own ids, from
    // the calls that created them, still work with tasks/get).
    if matches!(who.via, switchboard_tenancy::Via::Anonymous) {
        return Ok(Ok(json!({"tasks": []})));
    }
    let page = tasks
        .store()
        .list(&who.binding(), after.as_deref(), PAGE)
        .await?;
    let mut result = json!({"tasks": page.iter().map(shape).collect::<Vec<_>>()});
    if page.len() == PAGE
        && let Some(last) = page.last()
    {
        result["nextCursor"] = json!(last.id);
    }
    Ok(Ok(result))
}

/// A task-augmented call (or a call to a tool that must be one); `None`
/// for a call that runs as usual. Only the catalog's own tools run as
/// tasks here.
async fn call(
    tasks: &Tasks,
    who: &Principal,
    capabilities: &Value,
    name: &str,
    params: Option<&RawValue>,
) -> Result<Answer, TransportError> {
    let Some(tool) = tasks
        .catalog()
        .tool(name)
        .filter(|_| Access::tool(&*who.tenant.policy, name))
    else {
        return Ok(None);
    };
    let not_found = |m: String| Ok(Some(Err(RpcError::new(ErrorCode::METHOD_NOT_FOUND, m))));
    match (tool.task_support_of(), augmentation(params)) {
        (TaskSupport::Forbidden, Some(_)) => {
            not_found(format!("tool {name} does not run as a task"))
        }
        (TaskSupport::Required, None) => not_found(format!("tool {name} must be called as a task")),
        (_, None) => Ok(None),
        (_, Some((c, task))) => {
            let ttl = task.get("ttl").and_then(Value::as_u64);
            let record = create(tasks, who, Call::of(&c, capabilities, Map::new()), ttl).await?;
            tasks.finished(who, None, name);
            Ok(Some(Ok(json!({"task": shape(&record)}))))
        }
    }
}

/// The call and its task augmentation (an object), if it has one. The
/// params are read for it only when they may hold a `task` key: most calls
/// carry none, and the front has read their name already.
fn augmentation(params: Option<&RawValue>) -> Option<(ToolCall<'_>, Value)> {
    if !switchboard_proto::may_hold_key(params?.get(), "task") {
        return None;
    }
    let c = ToolCall::read(params).ok()?;
    let task = serde_json::from_str::<Value>(c.task?.get()).ok()?;
    task.is_object().then_some((c, task))
}

async fn task_method(
    tasks: &Tasks,
    who: &Principal,
    method: &str,
    id: &str,
) -> Result<Result<Value, RpcError>, TransportError> {
    let current = owned(tasks, who, id).await?;
    // An orphaned task being cancelled is not run again first.
    let current = if method == CANCEL {
        current
    } else {
        take_over_if_orphaned(tasks, current).await?
    };
    match method {
        GET => Ok(Ok(shape(&current.record))),
        CANCEL if current.record.status.is_terminal() => {
            Ok(Err(RpcError::invalid_params(format!(
                "cannot cancel a task that is already {}",
                current.record.status.as_str()
            ))))
        }
        CANCEL => {
            cancel(tasks, current).await?;
            let done = owned(tasks, who, id).await?;
            Ok(Ok(shape(&done.record)))
        }
        _ => result(tasks, who, id).await,
    }
}

/// Wait (up to the request timeout) until the task ends, then answer as
/// its tool call would have.
async fn result(
    tasks: &Tasks,
    who: &Principal,
    id: &str,
) -> Result<Result<Value, RpcError>, TransportError> {
    let deadline = Instant::now() + tasks.config().request_timeout();
    loop {
        let v = take_over_if_orphaned(tasks, owned(tasks, who, id).await?).await?;
        let r = v.record;
        let related = json!({RELATED_TASK: {"taskId": r.id}});
        match r.status {
            TaskStatus::Completed => {
                let mut result = r.result.unwrap_or_else(|| json!({}));
                if let Some(m) = result.as_object_mut() {
                    m.insert("_meta".into(), related);
                }
                return Ok(Ok(result));
            }
            TaskStatus::Failed => {
                let e = r.error.unwrap_or_default();
                let code = e["code"].as_i64().unwrap_or(-32603) as i32;
                let message = e["message"].as_str().unwrap_or("the task failed");
                return Ok(Err(RpcError::new(ErrorCode(code), message)));
            }
            TaskStatus::Cancelled => {
                return Ok(Err(RpcError::invalid_params("the task was cancelled")));
            }
            TaskStatus::InputRequired => {
                return Ok(Err(RpcError::internal(
                    "the task needs input from the client, which 2025-11-25 tasks do not carry here",
                )));
            }
            TaskStatus::Working if Instant::now() >= deadline => {
                return Ok(Err(switchboard_http::reply::timed_out(
                    tasks.config().request_timeout_secs,
                )));
            }
            TaskStatus::Working => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A task as 2025-11-25 shows it.
fn shape(r: &TaskRecord) -> Value {
    let time = |ms: u64| {
        switchboard_observe::audit::rfc3339(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
        )
    };
    json!({
        "taskId": r.id,
        "status": r.status.as_str(),
        "createdAt": time(r.created_ms),
        "lastUpdatedAt": time(r.updated_ms),
        "ttl": r.ttl_ms,
        "pollInterval": POLL_INTERVAL_MS,
    })
}
