//! The session record and the `SessionStore` trait.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Milliseconds since the Unix epoch: store timestamps are wall-clock so they
/// mean the same thing on every node.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Everything durable about one session-era client session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The `Mcp-Session-Id`.
    pub id: String,
    /// The negotiated protocol version, e.g. `2025-11-25`.
    pub protocol_version: String,
    /// The client's `capabilities` from `initialize`, as raw JSON.
    pub client_capabilities: Box<RawValue>,
    /// The client's `clientInfo` from `initialize`, as raw JSON.
    pub client_info: Box<RawValue>,
    /// The minimum log level set by `logging/setLevel`, if any.
    pub log_level: Option<String>,
    /// Who created the session; requests from anyone else see it as unknown.
    pub principal: Option<String>,
    /// Whether `notifications/initialized` has arrived.
    pub initialized: bool,
    /// Resource URIs this session subscribed to.
    pub subscriptions: Vec<String>,
    pub created_at_ms: u64,
    pub last_seen_ms: u64,
}

impl SessionRecord {
    /// A fresh record, as created by `initialize`.
    pub fn new(
        id: String,
        protocol_version: &str,
        client_capabilities: Box<RawValue>,
        client_info: Box<RawValue>,
        principal: Option<String>,
    ) -> Self {
        let now = now_ms();
        Self {
            id,
            protocol_version: protocol_version.to_owned(),
            client_capabilities,
            client_info,
            log_level: None,
            principal,
            initialized: false,
            subscriptions: Vec::new(),
            created_at_ms: now,
            last_seen_ms: now,
        }
    }
}

/// Which sessions are over: idle since before `idle_before_ms`, created
/// before `created_before_ms` (too old), or created before
/// `uninitialized_before_ms` without completing `initialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub idle_before_ms: u64,
    pub created_before_ms: u64,
    pub uninitialized_before_ms: u64,
}

impl Expiry {
    /// Whether `record` is over by this rule.
    pub fn covers(&self, record: &SessionRecord) -> bool {
        record.last_seen_ms < self.idle_before_ms
            || record.created_at_ms < self.created_before_ms
            || (!record.initialized && record.created_at_ms < self.uninitialized_before_ms)
    }
}

/// A page of a scan, with the cursor of the next page.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// What a store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a session with this id already exists")]
    Exists,
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A cap on the live sessions of one group (a tenant, a client identity),
/// checked by [`SessionStore::create_within`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// The group's name, e.g. `tenant:acme`; any string.
    pub group: String,
    /// At most this many live sessions of the group.
    pub max: usize,
}

/// Whether [`SessionStore::create_within`] stored the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// Stored, and counted in every quota the store keeps.
    Yes,
    /// Not stored: the quota at this index of the list given is full.
    Refused(usize),
}

/// Durable session records. Every method may cross a network, so callers
/// batch what they can and never hold a lock across a call.
#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug + 'static {
    /// Insert a new record; fails if the id exists.
    async fn create(&self, record: SessionRecord) -> Result<(), StoreError>;
    /// Insert a new record if every quota has room, counting it in each
    /// until it is deleted or expires — atomically across every node
    /// sharing the store. The default counts nothing (it is `create`): the
    /// server's node-local counts are then the only quotas, which is exact
    /// for a store no other node shares.
    async fn create_within(
        &self,
        record: SessionRecord,
        quotas: &[Quota],
    ) -> Result<Admitted, StoreError> {
        let _ = quotas;
        self.create(record).await.map(|()| Admitted::Yes)
    }
    /// Load a record, `None` if unknown or deleted.
    async fn load(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Replace a record that exists; returns false if it is gone.
    async fn update(&self, record: &SessionRecord) -> Result<bool, StoreError>;
    /// Set `last_seen_ms`; returns false if the session is gone.
    async fn touch(&self, id: &str, now_ms: u64) -> Result<bool, StoreError>;
    /// `load` and `touch` at once (a request's session, when its `last
    /// seen` is due for a refresh): the record with `last_seen_ms` at least
    /// `now_ms`, `None` if unknown or deleted. The default makes the two
    /// calls; a store across a network does both in one round trip.
    async fn load_and_touch(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Some(mut record) = self.load(id).await? else {
            return Ok(None);
        };
        if !self.touch(id, now_ms).await? {
            return Ok(None);
        }
        record.last_seen_ms = record.last_seen_ms.max(now_ms);
        Ok(Some(record))
    }
    /// Delete a record; returns whether it existed.
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;
    /// List records page by page, in no particular order.
    async fn scan(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<SessionRecord>, StoreError>;
    /// Remove the sessions the rule says are over, returning their ids.
    async fn expire(&self, rule: Expiry) -> Result<Vec<String>, StoreError>;
    /// How many sessions the store holds.
    async fn count(&self) -> Result<usize, StoreError>;
    /// The session idle the longest, if it has been idle since before
    /// `idle_before_ms` (the eviction candidate when the table is full).
    async fn longest_idle(&self, idle_before_ms: u64) -> Result<Option<String>, StoreError>;
}
