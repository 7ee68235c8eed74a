//! Durable tasks: a long tool call's record (who started it, what it
//! runs, where it stands, its result) and the `TaskStore` trait that keeps
//! it where every node can read it.
//!
//! Every change is a compare-and-swap on one task's record (its `version`),
//! so a backend needs only a single-key atomic operation: nothing spans two
//! tasks.

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::session::{Admitted, Quota, StoreError, now_ms};

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// The tool runs (or waits for a node to run it).
    Working,
    /// The tool waits for the client's answers (`tasks/update`).
    InputRequired,
    /// The call returned a result (a tool error's included).
    Completed,
    /// The call ended with a JSON-RPC error (see `error`).
    Failed,
    /// The client cancelled it.
    Cancelled,
}

impl TaskStatus {
    /// Whether nothing will change the task any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The wire name (`working`, `input_required`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Working => "working",
            Self::InputRequired => "input_required",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Everything durable about one task. The original request (tool,
/// arguments, client capabilities, the input answered so far) is kept so
/// that any node can run the tool again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The task's id.
    pub id: String,
    /// Who started it (tenant and identity): anyone else sees no such task.
    pub principal: String,
    /// The tenant and subject, to rebuild the caller on another node.
    pub tenant: String,
    /// See `tenant`.
    pub subject: String,
    /// The scopes of the starter's token, so policies judge the task's
    /// call as they would have judged the request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The claims of the starter's JWT, for the same reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Map<String, Value>>,
    /// The virtual server the task was started at (it sees the tool as
    /// that server presents it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Where it stands.
    pub status: TaskStatus,
    /// The tool called.
    pub tool: String,
    /// The call's arguments.
    pub arguments: Value,
    /// The capabilities the client declared with the call.
    pub client_capabilities: Value,
    /// Answers to input requests, by key (`tasks/update`).
    pub responses: Map<String, Value>,
    /// Input requests still unanswered, by key.
    pub input_requests: Map<String, Value>,
    /// The tool's result, once completed.
    pub result: Option<Value>,
    /// The JSON-RPC error, once failed.
    pub error: Option<Value>,
    /// When it was created (Unix ms).
    pub created_ms: u64,
    /// When it last changed (Unix ms).
    pub updated_ms: u64,
    /// The task is forgotten this long after its creation.
    pub ttl_ms: u64,
    /// The node running the tool, and until when its lease holds.
    pub owner: Option<String>,
    /// See `owner` (Unix ms).
    pub lease_until_ms: u64,
    /// How many times the tool has been started (more than one after a
    /// takeover or an input round).
    pub runs: u32,
}

impl TaskRecord {
    /// When the store may forget the task.
    pub fn expires_ms(&self) -> u64 {
        self.created_ms.saturating_add(self.ttl_ms)
    }

    /// Whether a node should (re)start the tool: it is working and nobody
    /// holds a live lease on it.
    pub fn needs_runner(&self, now: u64) -> bool {
        self.status == TaskStatus::Working && (self.owner.is_none() || self.lease_until_ms < now)
    }
}

/// A record as loaded, with the version a swap must name.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    /// Bumped by every swap.
    pub version: u64,
    /// The record.
    pub record: TaskRecord,
}

/// Task records shared by the nodes. Expired tasks are gone.
#[async_trait]
pub trait TaskStore: Send + Sync + std::fmt::Debug + 'static {
    /// Store a new task (version 1) if its principal has fewer than
    /// `quota.max` live tasks (`quota.group` names the principal).
    async fn create(&self, record: &TaskRecord, quota: &Quota) -> Result<Admitted, StoreError>;
    /// Load a task, `None` if unknown or expired.
    async fn load(&self, id: &str) -> Result<Option<Versioned>, StoreError>;
    /// Replace the task if it is still at `version`; returns whether it was
    /// (false: someone changed it first, or it is gone).
    async fn swap(&self, version: u64, record: &TaskRecord) -> Result<bool, StoreError>;
    /// Up to `max` ids of working tasks that need a runner at `now` (their
    /// lease ran out): what a node's orphan sweep takes over. A backend may
    /// name a task that has changed since; the caller loads each one and
    /// claims it by `swap`.
    async fn orphans(&self, now: u64, max: usize) -> Result<Vec<String>, StoreError>;
    /// Up to `max` live tasks of `principal` by id, those after `after`
    /// only (a page of `tasks/list`; the last id is the next cursor).
    async fn list(
        &self,
        principal: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<TaskRecord>, StoreError>;
}

/// Tasks kept in this process's memory: one node.
#[derive(Debug, Default)]
pub struct MemoryTaskStore {
    map: Mutex<std::collections::HashMap<String, Versioned>>,
}

impl MemoryTaskStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl TaskStore for MemoryTaskStore {
    async fn create(&self, record: &TaskRecord, quota: &Quota) -> Result<Admitted, StoreError> {
        let now = now_ms();
        let mut map = self.map.lock();
        map.retain(|_, t| t.record.expires_ms() > now);
        let live = map
            .values()
            .filter(|t| t.record.principal == quota.group)
            .count();
        if live >= quota.max {
            return Ok(Admitted::Refused(0));
        }
        if map.contains_key(&record.id) {
            return Err(StoreError::Exists);
        }
        let stored = Versioned {
            version: 1,
            record: record.clone(),
        };
        map.insert(record.id.clone(), stored);
        Ok(Admitted::Yes)
    }

    async fn load(&self, id: &str) -> Result<Option<Versioned>, StoreError> {
        let now = now_ms();
        Ok(self
            .map
            .lock()
            .get(id)
            .filter(|t| t.record.expires_ms() > now)
            .cloned())
    }

    async fn swap(&self, version: u64, record: &TaskRecord) -> Result<bool, StoreError> {
        let mut map = self.map.lock();
        match map.get_mut(&record.id) {
            Some(t) if t.version == version => {
                t.version += 1;
                t.record = record.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn orphans(&self, now: u64, max: usize) -> Result<Vec<String>, StoreError> {
        Ok(self
            .map
            .lock()
            .values()
            .filter(|t| t.record.expires_ms() > now && t.record.needs_runner(now))
            .take(max)
            .map(|t| t.record.id.clone())
            .collect())
    }

    async fn list(
        &self,
        principal: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        let now = now_ms();
        let mut found: Vec<TaskRecord> = self
            .map
            .lock()
            .values()
            .map(|t| &t.record)
            .filter(|r| r.principal == principal && r.expires_ms() > now)
            .filter(|r| after.is_none_or(|a| r.id.as_str() > a))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.truncate(max);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_task_store_passes_the_suite() {
        crate::suite::task_store_suite(&super::MemoryTaskStore::new()).await;
    }
}
