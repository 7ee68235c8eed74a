//! State shared by an upstream's handle and its tasks.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use crate::{Downstream, UpstreamError};

/// What a call waits for.
pub(crate) type Outcome = Result<Box<RawValue>, UpstreamError>;

/// How many ids of calls given up on are remembered, so that their late
/// answers are not taken for garbage.
const FORGOTTEN_KEPT: usize = 1024;

/// Where the process is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    Running,
    /// Exited and reaped (with its status); calls not yet failed.
    Reaped(String),
    /// Everything cleaned up.
    Done(String),
}

/// One call waiting for its answer.
#[derive(Debug)]
struct Call {
    tx: oneshot::Sender<Outcome>,
    /// The token we put in `_meta.progressToken`, if any.
    token: Option<String>,
}

/// Calls in flight both ways.
#[derive(Debug, Default)]
pub(crate) struct Table {
    calls: HashMap<u64, Call>,
    /// Our progress token → the caller's original token.
    tokens: HashMap<String, Box<RawValue>>,
    forgotten: VecDeque<u64>,
    /// Requests from the upstream being answered, by their id's JSON text.
    inbound: HashMap<String, AbortHandle>,
    /// Set when the process is gone: why calls fail from now on.
    closed: Option<UpstreamError>,
}

/// What became of an answer's id.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A call is waiting for it.
    Waiting(oneshot::Sender<Outcome>),
    /// The call was given up on; a late answer.
    Late,
    /// We never sent that id.
    Unknown,
}

impl Table {
    /// Register a call; fails once the process is gone.
    pub(crate) fn insert(
        &mut self,
        id: u64,
        tx: oneshot::Sender<Outcome>,
        token: Option<(String, Box<RawValue>)>,
    ) -> Result<(), UpstreamError> {
        if let Some(cause) = &self.closed {
            return Err(cause.clone());
        }
        let token = token.map(|(ours, original)| {
            self.tokens.insert(ours.clone(), original);
            ours
        });
        self.calls.insert(id, Call { tx, token });
        Ok(())
    }

    /// Take the call an answer belongs to.
    pub(crate) fn answer(&mut self, id: u64) -> Answer {
        match self.calls.remove(&id) {
            Some(call) => {
                self.drop_token(call.token);
                Answer::Waiting(call.tx)
            }
            None if self.forgotten.contains(&id) => {
                self.forgotten.retain(|&f| f != id);
                Answer::Late
            }
            None => Answer::Unknown,
        }
    }

    /// Give up on a call; true if it was still waiting (so the upstream
    /// should be told it is cancelled).
    pub(crate) fn forget(&mut self, id: u64) -> bool {
        let Some(call) = self.calls.remove(&id) else {
            return false;
        };
        self.drop_token(call.token);
        if self.forgotten.len() == FORGOTTEN_KEPT {
            self.forgotten.pop_front();
        }
        self.forgotten.push_back(id);
        true
    }

    fn drop_token(&mut self, token: Option<String>) {
        if let Some(token) = token {
            self.tokens.remove(&token);
        }
    }

    /// The caller's token behind one of ours.
    pub(crate) fn original_token(&self, ours: &str) -> Option<Box<RawValue>> {
        self.tokens.get(ours).cloned()
    }

    /// Why calls fail, once the process is gone.
    pub(crate) fn closed(&self) -> Option<UpstreamError> {
        self.closed.clone()
    }

    /// Requests from the upstream in flight.
    pub(crate) fn inbound_len(&self) -> usize {
        self.inbound.len()
    }

    /// Whether a request from the upstream with this id is in flight.
    pub(crate) fn has_inbound(&self, id: &str) -> bool {
        self.inbound.contains_key(id)
    }

    /// Track a request from the upstream.
    pub(crate) fn add_inbound(&mut self, id: String, task: AbortHandle) {
        self.inbound.insert(id, task);
    }

    /// A request from the upstream is done; false if it was cancelled
    /// meanwhile (then it gets no answer).
    pub(crate) fn finish_inbound(&mut self, id: &str) -> bool {
        self.inbound.remove(id).is_some()
    }

    /// The upstream cancelled a request it sent: stop answering it.
    pub(crate) fn cancel_inbound(&mut self, id: &str) -> bool {
        self.inbound.remove(id).map(|task| task.abort()).is_some()
    }

    /// The process is gone: every call fails with `cause` and requests from
    /// the upstream are abandoned.
    pub(crate) fn close(&mut self, cause: UpstreamError) {
        for (_, call) in self.calls.drain() {
            let _ = call.tx.send(Err(cause.clone()));
        }
        for (_, task) in self.inbound.drain() {
            task.abort();
        }
        self.tokens.clear();
        self.closed = Some(cause);
    }
}

/// Everything the handle and the tasks of one process share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) downstream: Arc<dyn Downstream>,
    pub(crate) max_garbage: u32,
    /// Lines for the writer task.
    pub(crate) writer: mpsc::Sender<String>,
    pub(crate) phase: watch::Sender<Phase>,
    /// Set when the reader cut the process off; the reason.
    pub(crate) misbehaving: OnceLock<String>,
    /// Cancelled to kill the process group.
    pub(crate) kill: CancellationToken,
    /// The call table (never held across an await).
    pub(crate) table: Mutex<Table>,
    next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(
        name: String,
        downstream: Arc<dyn Downstream>,
        max_garbage: u32,
        writer: mpsc::Sender<String>,
    ) -> Self {
        Self {
            name,
            downstream,
            max_garbage,
            writer,
            phase: watch::Sender::new(Phase::Running),
            misbehaving: OnceLock::new(),
            kill: CancellationToken::new(),
            table: Mutex::new(Table::default()),
            next_id: AtomicU64::new(1),
        }
    }

    /// A fresh id for a call of ours.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Queue a line for stdin; false if the writer is gone.
    pub(crate) async fn send_line(&self, line: String) -> bool {
        self.writer.send(line).await.is_ok()
    }

    /// Queue a line without waiting (from `Drop`): if the queue is full, a
    /// task delivers it.
    pub(crate) fn send_line_now(&self, line: String) {
        match self.writer.try_send(line) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(line)) => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let writer = self.writer.clone();
                    runtime.spawn(async move {
                        let _ = writer.send(line).await;
                    });
                }
            }
        }
    }

    /// Cut the process off for misbehaving: kill its group.
    pub(crate) fn misbehave(&self, reason: String) {
        tracing::error!(upstream = %self.name, "killing the upstream: {reason}");
        let _ = self.misbehaving.set(reason);
        self.kill.cancel();
    }

    /// Resolves once the process has been reaped.
    pub(crate) async fn reaped(&self) {
        let mut phase = self.phase.subscribe();
        let _ = phase.wait_for(|p| *p != Phase::Running).await;
    }
}
