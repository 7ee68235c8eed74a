//! Running a task's tool in the background: the lease kept while it runs,
//! the peer its input requests go to, and the outcome written back to the
//! store (only while this node still owns the task).

use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use switchboard_proto::{RequestId, RpcError, methods};
use switchboard_runtime::{
    Caller, ClientPeer, HandlerError, PeerError, RequestContextBuilder, async_trait,
};
use switchboard_store::{StoreError, TaskRecord, TaskStatus, Versioned, now_ms};
use tokio_util::sync::CancellationToken;

use crate::service::{SWAP_TRIES, Tasks};
use switchboard_stateless::Rounds;

/// Run the claimed task `claimed` here, in the background.
pub(crate) fn spawn(tasks: &Tasks, claimed: Versioned) {
    let tasks = tasks.clone();
    // Registered before the task starts, so a cancel arriving at once finds it.
    let cancel = CancellationToken::new();
    tasks
        .running()
        .insert(claimed.record.id.clone(), cancel.clone());
    tokio::spawn(async move { run(tasks, claimed.record, cancel).await });
}

/// This node's run of a task: the owner and the claim's run count, so a
/// run this node started before it lost and took back the task (its own
/// sweep, after the store was away longer than a lease) is not the current
/// one.
#[derive(Clone, Copy)]
struct Run(u32);

async fn run(tasks: Tasks, record: TaskRecord, cancel: CancellationToken) {
    let id = record.id.clone();
    let this = Run(record.runs);
    let left = record.expires_ms().saturating_sub(now_ms());
    let settled = tokio::select! {
        outcome = execute(&tasks, &record, cancel.clone()) => Some(outcome),
        () = keep_lease(&tasks, &id, this) => None,
        () = tokio::time::sleep(Duration::from_millis(left)) => None,
    };
    cancel.cancel();
    {
        let mut running = tasks.running();
        // Only this run's token: a later run of the task may have replaced it.
        if running.get(&id).is_some_and(|t| t.is_cancelled()) {
            running.remove(&id);
        }
    }
    if let Some((outcome, missing)) = settled
        && let Err(e) = settle(&tasks, &id, this, outcome, missing).await
    {
        tracing::warn!(task = %id, error = %e, "task: cannot record the outcome");
    }
}

/// Renew the lease every third of it; returns once the task is no longer
/// this node's (cancelled, taken over, gone).
async fn keep_lease(tasks: &Tasks, id: &str, this: Run) {
    loop {
        tokio::time::sleep(Duration::from_millis(tasks.lease_ms() / 3)).await;
        match renew(tasks, id, this).await {
            Ok(true) => {}
            Ok(false) => return,
            // The store is away: keep running; if the lease lapses meanwhile
            // another node may take over, and the next renewal sees it.
            Err(e) => tracing::warn!(task = %id, error = %e, "task: cannot renew the lease"),
        }
    }
}

async fn renew(tasks: &Tasks, id: &str, this: Run) -> Result<bool, StoreError> {
    for _ in 0..SWAP_TRIES {
        let Some(mut v) = tasks.store().load(id).await? else {
            return Ok(false);
        };
        if !mine(tasks, &v.record, this) {
            return Ok(false);
        }
        v.record.lease_until_ms = now_ms() + tasks.lease_ms();
        if tasks.store().swap(v.version, &v.record).await? {
            return Ok(true);
        }
    }
    Ok(true)
}

fn mine(tasks: &Tasks, r: &TaskRecord, this: Run) -> bool {
    r.status == TaskStatus::Working && r.owner.as_deref() == Some(tasks.owner()) && r.runs == this.0
}

/// The peer of a task: no stream to the client; input requests are
/// answered from the task's recorded answers or become its pending input.
#[derive(Debug)]
struct TaskPeer {
    rounds: Rounds,
}

#[async_trait]
impl ClientPeer for TaskPeer {
    async fn notify(&self, _method: &str, _params: Value) {}

    async fn request(
        &self,
        key: &str,
        method: &str,
        params: Value,
    ) -> Result<Box<RawValue>, PeerError> {
        self.rounds.answer(key, method, params)
    }
}

type Outcome = (Result<Value, HandlerError>, Map<String, Value>);

/// Call the tool as the recorded request says, as the principal who
/// started the task.
async fn execute(tasks: &Tasks, r: &TaskRecord, cancel: CancellationToken) -> Outcome {
    let Some(tenant) = tasks.gate().tenants().get(&r.tenant) else {
        let e = RpcError::internal("the task's tenant is no longer configured");
        return (Err(e.into()), Map::new());
    };
    let server = match &r.server {
        None => None,
        Some(name) => match tasks.gate().tenants().server(name) {
            Some(s) => Some(s.clone()),
            None => {
                let e = RpcError::internal("the task's server is no longer configured");
                return (Err(e.into()), Map::new());
            }
        },
    };
    let caller = Caller {
        tenant: tenant.id.clone(),
        subject: Arc::from(r.subject.as_str()),
        session: None,
        access: tenant.access_at(server.as_ref()),
        max_upstream_processes: tenant.max_upstream_processes,
        // A task runs after its request is answered: no client token to
        // exchange is kept for it.
        token: None,
        scopes: Arc::from(r.scopes.as_slice()),
        claims: r.claims.clone().map(Arc::new),
    };
    let peer = Arc::new(TaskPeer {
        rounds: Rounds::new(r.responses.clone()),
    });
    let builder = RequestContextBuilder::new(
        peer.clone() as Arc<dyn ClientPeer>,
        RequestId::from_string(&r.id),
    )
    .stateless(true)
    .client_capabilities(Some(r.client_capabilities.clone()))
    .caller(caller)
    .cancel(cancel);
    let ctx = tasks.catalog().context(builder);
    let params = json!({"name": r.tool, "arguments": r.arguments});
    let outcome = match serde_json::value::to_raw_value(&params) {
        Ok(raw) => {
            tasks
                .catalog()
                .handle(methods::TOOLS_CALL, Some(&raw), ctx)
                .await
        }
        Err(e) => Err(RpcError::internal(e.to_string()).into()),
    };
    (outcome, peer.rounds.take().0)
}

/// Write the outcome, if the task is still this node's and working.
async fn settle(
    tasks: &Tasks,
    id: &str,
    this: Run,
    outcome: Result<Value, HandlerError>,
    missing: Map<String, Value>,
) -> Result<(), StoreError> {
    if matches!(outcome, Err(HandlerError::Cancelled)) {
        return Ok(()); // cancelled, or this node is stopping (another takes over)
    }
    let max = tasks.config().task_max_result_bytes;
    for _ in 0..SWAP_TRIES {
        let Some(v) = tasks.store().load(id).await? else {
            return Ok(());
        };
        if !mine(tasks, &v.record, this) {
            return Ok(());
        }
        let mut record = v.record.clone();
        apply(&mut record, &outcome, &missing, max);
        record.owner = None;
        record.updated_ms = now_ms();
        if tasks.store().swap(v.version, &record).await? {
            return Ok(());
        }
    }
    Err(StoreError::Unavailable(
        "the task changed too often to record its outcome".into(),
    ))
}

fn apply(
    record: &mut TaskRecord,
    outcome: &Result<Value, HandlerError>,
    missing: &Map<String, Value>,
    max_bytes: usize,
) {
    let fail = |record: &mut TaskRecord, e: RpcError| {
        record.status = TaskStatus::Failed;
        record.error =
            Some(serde_json::to_value(switchboard_stateless::modern_error(e)).unwrap_or_default());
    };
    match outcome {
        Ok(result) if result.to_string().len() > max_bytes => fail(
            record,
            RpcError::internal(format!(
                "the task's result is larger than {max_bytes} bytes"
            )),
        ),
        Ok(result) => {
            record.status = TaskStatus::Completed;
            record.result = Some(result.clone());
        }
        Err(HandlerError::InputRequired) if !missing.is_empty() => {
            record.status = TaskStatus::InputRequired;
            record.input_requests = missing.clone();
        }
        Err(HandlerError::Rpc(e)) => fail(record, e.clone()),
        Err(HandlerError::MissingCapability(cap)) => fail(
            record,
            switchboard_http::error::TransportError::MissingCapability(cap).rpc(),
        ),
        Err(other) => fail(record, RpcError::internal(other.to_string())),
    }
}
