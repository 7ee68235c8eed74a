//! The 2026-07-28 tasks extension's surface: whether a client accepts
//! it, how a `tools/call` is served ([`Plan`]), starting a task and
//! counting it, `tasks/get`, `tasks/update` and `tasks/cancel`, and a task
//! on the wire.

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use switchboard_http::error::TransportError;
use switchboard_proto::params::{TaskRef, ToolCall};
use switchboard_runtime::{Access, TaskSupport};
use switchboard_stateless::names::{CANCEL, EXTENSION, GET, UPDATE};
use switchboard_store::{TaskRecord, TaskStatus};
use switchboard_tenancy::Principal;

use crate::records::{Call, cancel, create, owned, take_over_if_orphaned, update};
use crate::service::{POLL_INTERVAL_MS, Tasks};

/// Whether the client declared the tasks extension (for this request).
pub fn accepts(capabilities: &Value) -> bool {
    capabilities
        .get("extensions")
        .and_then(|e| e.get(EXTENSION))
        .is_some()
}

/// Whether `method` is one of the extension's methods.
pub fn is_method(method: &str) -> bool {
    matches!(method, GET | UPDATE | CANCEL)
}

/// How a `tools/call` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Answered in the call.
    Sync,
    /// A task from the start.
    Task,
    /// Run in the call; the tool may turn it into a task itself.
    Foreground,
}

impl Tasks {
    /// Decide how to serve a `tools/call`: a tool that only runs as a task is
    /// refused (-32021) to clients that do not accept tasks.
    pub fn plan(
        &self,
        who: &Principal,
        call: &ToolCall<'_>,
        capabilities: &Value,
    ) -> Result<Plan, TransportError> {
        let tasks = self;
        let name = call.name.as_ref();
        let Some(tool) = tasks
            .catalog()
            .tool(name)
            .filter(|_| Access::tool(&*who.tenant.policy, name))
        else {
            return Ok(Plan::Sync);
        };
        Ok(match (tool.task_support_of(), accepts(capabilities)) {
            (TaskSupport::Forbidden, _) | (TaskSupport::Optional, false) => Plan::Sync,
            (TaskSupport::Required, false) => {
                return Err(TransportError::MissingExtension(EXTENSION));
            }
            (_, true) if tool.is_self_starting_task() => Plan::Foreground,
            (_, true) => Plan::Task,
        })
    }
}

impl Tasks {
    /// Create the task (durably: `tasks/get` finds it as soon as this
    /// returns), start it here, and answer with its `CreateTaskResult`.
    pub async fn start(&self, who: &Principal, call: Call) -> Result<Value, TransportError> {
        let tasks = self;
        let record = create(tasks, who, call, None).await?;
        Ok(shape(tasks, &record, false, "task"))
    }
}

impl Tasks {
    /// Count and audit a call that became a task at once (outcome `task`).
    pub fn finished(&self, who: &Principal, session: Option<&str>, tool: &str) {
        let tasks = self;
        let method = switchboard_proto::methods::TOOLS_CALL;
        tasks.gate().finished(
            who,
            session,
            method,
            Some(tool),
            "task",
            std::time::Duration::ZERO,
        );
    }
}

impl Tasks {
    /// Serve `tasks/get`, `tasks/update` or `tasks/cancel` (`params` raw and
    /// parsed).
    pub async fn serve(
        &self,
        who: &Principal,
        method: &str,
        raw: Option<&RawValue>,
        params: &Value,
        capabilities: &Value,
    ) -> Result<Value, TransportError> {
        let tasks = self;
        if !accepts(capabilities) {
            return Err(TransportError::MissingExtension(EXTENSION));
        }
        let id = TaskRef::read(method, raw)
            .map_err(TransportError::InvalidParams)?
            .task_id;
        let current = owned(tasks, who, &id).await?;
        match method {
            GET => {
                let current = take_over_if_orphaned(tasks, current).await?;
                Ok(shape(tasks, &current.record, true, "complete"))
            }
            UPDATE => {
                let answers = match params.get("inputResponses") {
                    Some(Value::Object(m)) => m.clone(),
                    None | Some(Value::Null) => Map::new(),
                    Some(_) => {
                        return Err(TransportError::MissingMeta(
                            "tasks/update: inputResponses must be an object".into(),
                        ));
                    }
                };
                update(tasks, current, answers).await?;
                Ok(ack(tasks))
            }
            _ => {
                cancel(tasks, current).await?;
                Ok(ack(tasks))
            }
        }
    }
}

/// The empty acknowledgement of `tasks/update` and `tasks/cancel`.
fn ack(tasks: &Tasks) -> Value {
    let mut map = Map::new();
    map.insert("resultType".into(), json!("complete"));
    tasks.shape().stamp(&mut map);
    Value::Object(map)
}

/// A task on the wire: the `CreateTaskResult` (`resultType` "task") or,
/// `detailed`, the `tasks/get` result with its input requests, result or
/// error inlined.
fn shape(tasks: &Tasks, r: &TaskRecord, detailed: bool, result_type: &str) -> Value {
    let time = |ms: u64| {
        switchboard_observe::audit::rfc3339(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
        )
    };
    let mut map = Map::new();
    map.insert("resultType".into(), json!(result_type));
    map.insert("taskId".into(), json!(r.id));
    map.insert("status".into(), json!(r.status.as_str()));
    map.insert("createdAt".into(), json!(time(r.created_ms)));
    map.insert("lastUpdatedAt".into(), json!(time(r.updated_ms)));
    map.insert("ttlMs".into(), json!(r.ttl_ms));
    map.insert("pollIntervalMs".into(), json!(POLL_INTERVAL_MS));
    if detailed {
        match r.status {
            TaskStatus::InputRequired => {
                map.insert(
                    "inputRequests".into(),
                    Value::Object(r.input_requests.clone()),
                );
            }
            TaskStatus::Completed => {
                map.insert("result".into(), r.result.clone().unwrap_or(json!({})));
            }
            TaskStatus::Failed => {
                map.insert("error".into(), r.error.clone().unwrap_or(json!({})));
            }
            TaskStatus::Working | TaskStatus::Cancelled => {}
        }
    }
    tasks.shape().stamp(&mut map);
    Value::Object(map)
}
