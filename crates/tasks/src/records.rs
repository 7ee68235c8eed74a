//! Task records and their operations, shared by the tasks extension of
//! 2026-07-28 (`io.modelcontextprotocol/tasks`, SEP-2663) and the
//! 2025-11-25 surface.
//!
//! A call to a task-supporting tool from a client that accepts tasks is
//! answered at once with a `CreateTaskResult`; the tool runs in the
//! background on the node that accepted it. Each task's record (who started
//! it, the original request, its status, input requests and result) lives in
//! the [`TaskStore`](switchboard_store::TaskStore), so `tasks/get`,
//! `tasks/update` and `tasks/cancel` work on any node. The running node
//! holds a lease on the task and renews it; when the lease runs out (the
//! node died), the next node asked about the task, or the first node's
//! periodic orphan sweep (`sweep.rs`), claims it and runs the tool again from
//! the recorded request: task-supporting tools run at least once. A task
//! asking for input is parked (`input_required`) and run again, with every
//! answer so far, once `tasks/update` has answered them all.

use serde_json::{Map, Value, json};
use switchboard_http::error::TransportError;
use switchboard_proto::params::ToolCall;
use switchboard_store::{Admitted, Quota, TaskRecord, TaskStatus, Versioned, now_ms};
use switchboard_tenancy::Principal;

use crate::runner;
use crate::service::{SWAP_TRIES, Tasks};

/// What a task runs: a tool call as the client sent it, and the input
/// answered so far.
#[derive(Debug)]
pub struct Call {
    /// The tool called.
    pub tool: String,
    pub(crate) arguments: Value,
    pub(crate) capabilities: Value,
    pub(crate) responses: Map<String, Value>,
}

impl Call {
    /// The task of `call` from a client with `capabilities`, with the
    /// input answered so far.
    pub fn of(call: &ToolCall<'_>, capabilities: &Value, responses: Map<String, Value>) -> Self {
        let arguments = call
            .arguments
            .and_then(|a| serde_json::from_str(a.get()).ok());
        Self {
            tool: call.name.clone().into_owned(),
            arguments: arguments.unwrap_or_else(|| json!({})),
            capabilities: capabilities.clone(),
            responses,
        }
    }
}

/// Store a new task (living `ttl_ms` if asked and shorter than the
/// configured ttl) and start it here.
pub(crate) async fn create(
    tasks: &Tasks,
    who: &Principal,
    call: Call,
    ttl_ms: Option<u64>,
) -> Result<TaskRecord, TransportError> {
    let config = tasks.config();
    // The task keeps the client's capabilities for its life (a 2026-07-28
    // request's own, from `_meta`): bounded as a session's are.
    let caps = switchboard_store::json_len(&call.capabilities);
    if caps > config.max_session_bytes {
        tasks.metrics().requests.rejected("session_bytes");
        return Err(TransportError::TooLarge {
            what: "the client capabilities a task keeps",
            bytes: caps,
            max: config.max_session_bytes,
        });
    }
    let max_ttl = config.task_ttl_secs.saturating_mul(1000).max(1);
    let now = now_ms();
    let id =
        switchboard_observe::ids::mint_session_id().map_err(|_| TransportError::HandlerFailed)?;
    let mut record = TaskRecord {
        id,
        principal: who.binding(),
        tenant: who.tenant.id.to_string(),
        subject: who.subject.to_string(),
        scopes: who.scopes.to_vec(),
        claims: who.claims.as_deref().cloned(),
        server: who.server.as_ref().map(|s| s.name.to_string()),
        status: TaskStatus::Working,
        tool: call.tool,
        arguments: call.arguments,
        client_capabilities: call.capabilities,
        responses: call.responses,
        input_requests: Map::new(),
        result: None,
        error: None,
        created_ms: now,
        updated_ms: now,
        ttl_ms: ttl_ms.map_or(max_ttl, |t| t.clamp(1, max_ttl)),
        owner: None,
        lease_until_ms: 0,
        runs: 0,
    };
    claim(&mut record, tasks);
    let quota = Quota {
        group: record.principal.clone(),
        max: config.max_tasks_per_identity,
        max_bytes: None,
    };
    match tasks.store().create(&record, &quota).await? {
        Admitted::Yes => {}
        Admitted::Refused(_) | Admitted::OverBytes(_) => {
            tasks.metrics().tenants.rejected(&who.tenant.id, "quota");
            let tool = Some(record.tool.as_str());
            tasks
                .gate()
                .security_event(who, None, "quota", tool, "max_tasks_per_identity");
            return Err(TransportError::Quota("max_tasks_per_identity"));
        }
    }
    runner::spawn(
        tasks,
        Versioned {
            version: 1,
            record: record.clone(),
        },
    );
    Ok(record)
}

/// Make this node the task's runner, with a fresh lease.
fn claim(record: &mut TaskRecord, tasks: &Tasks) {
    let now = now_ms();
    record.owner = Some(tasks.owner().to_owned());
    record.lease_until_ms = now + tasks.lease_ms();
    record.runs += 1;
    record.updated_ms = now;
}

/// The task `id` if `who` started it; anyone else's is unknown.
pub(crate) async fn owned(
    tasks: &Tasks,
    who: &Principal,
    id: &str,
) -> Result<Versioned, TransportError> {
    match tasks.store().load(id).await? {
        Some(v) if v.record.principal == who.binding() => Ok(v),
        _ => Err(TransportError::UnknownTask),
    }
}

/// A working task whose runner's lease ran out is claimed and run here.
pub(crate) async fn take_over_if_orphaned(
    tasks: &Tasks,
    mut v: Versioned,
) -> Result<Versioned, TransportError> {
    for _ in 0..SWAP_TRIES {
        if !v.record.needs_runner(now_ms()) {
            return Ok(v);
        }
        let mut record = v.record.clone();
        claim(&mut record, tasks);
        if tasks.store().swap(v.version, &record).await? {
            tracing::info!(task = %record.id, runs = record.runs, "task: taken over, running the tool again");
            let claimed = Versioned {
                version: v.version + 1,
                record,
            };
            runner::spawn(tasks, claimed.clone());
            return Ok(claimed);
        }
        match tasks.store().load(&v.record.id).await? {
            Some(next) => v = next,
            None => return Err(TransportError::UnknownTask),
        }
    }
    Ok(v)
}

/// Record answers to pending input requests (others are ignored); once
/// none is pending the task runs again here.
pub(crate) async fn update(
    tasks: &Tasks,
    mut v: Versioned,
    answers: Map<String, Value>,
) -> Result<(), TransportError> {
    for _ in 0..SWAP_TRIES {
        if v.record.status != TaskStatus::InputRequired {
            return Ok(());
        }
        let mut record = v.record.clone();
        for (key, answer) in &answers {
            if record.input_requests.remove(key).is_some() {
                record.responses.insert(key.clone(), answer.clone());
            }
        }
        let resume = record.input_requests.is_empty();
        if resume {
            record.status = TaskStatus::Working;
            claim(&mut record, tasks);
        }
        record.updated_ms = now_ms();
        if tasks.store().swap(v.version, &record).await? {
            if resume {
                let version = v.version + 1;
                runner::spawn(tasks, Versioned { version, record });
            }
            return Ok(());
        }
        v = reload(tasks, &v.record.id).await?;
    }
    Err(TransportError::Overloaded(
        switchboard_limits::Rejected::QueueFull,
    ))
}

/// Mark the task cancelled (a terminal task is left as it is) and stop it
/// if it runs here; elsewhere its runner sees it at its next lease renewal.
pub(crate) async fn cancel(tasks: &Tasks, mut v: Versioned) -> Result<(), TransportError> {
    for _ in 0..SWAP_TRIES {
        if v.record.status.is_terminal() {
            return Ok(());
        }
        let mut record = v.record.clone();
        record.status = TaskStatus::Cancelled;
        record.input_requests.clear();
        record.owner = None;
        record.updated_ms = now_ms();
        if tasks.store().swap(v.version, &record).await? {
            tasks.stop(&record.id);
            return Ok(());
        }
        v = reload(tasks, &v.record.id).await?;
    }
    Err(TransportError::Overloaded(
        switchboard_limits::Rejected::QueueFull,
    ))
}

pub(crate) async fn reload(tasks: &Tasks, id: &str) -> Result<Versioned, TransportError> {
    tasks
        .store()
        .load(id)
        .await?
        .ok_or(TransportError::UnknownTask)
}
