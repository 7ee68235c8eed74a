//! The session record and the `SessionStore` trait.

use std::sync::Arc;
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

/// The default bound on one stored session record ([`SessionRecord::stored_bytes`]):
/// what a store built without an explicit bound keeps at most.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 * 1024;

/// The length of `value`'s JSON text (as `serde_json::to_vec` writes it),
/// counted without building the text.
pub fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, nor can serializing plain data.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
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
    /// Whether the session lives only while one connection to one node is
    /// open (a 2024-11-05 HTTP+SSE session: it cannot resume elsewhere).
    /// That node renews it ([`SessionStore::renew`]) at each sweep; once it
    /// has not for a while ([`Expiry::untethered_before_ms`]) — its node
    /// died — any node's sweep ends it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tethered: bool,
    /// Resource URIs this session subscribed to.
    pub subscriptions: Vec<String>,
    /// When it was created (Unix ms).
    pub created_at_ms: u64,
    /// When a request last named it (Unix ms).
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
            tethered: false,
            subscriptions: Vec::new(),
            created_at_ms: now,
            last_seen_ms: now,
        }
    }

    /// The size of the record as every store keeps it: the length of its
    /// JSON (the Redis value, the file's row; the memory store holds the
    /// same strings). The one measure of the per-session bound.
    pub fn stored_bytes(&self) -> usize {
        json_len(self)
    }

    /// The record's JSON, if it fits in `max` bytes ([`StoreError::TooLarge`]
    /// otherwise): how a store that writes JSON encodes a record.
    pub fn encode_within(&self, max: usize) -> Result<Vec<u8>, StoreError> {
        let json = serde_json::to_vec(self).map_err(|e| {
            StoreError::Corrupt(format!("cannot encode session record {}: {e}", self.id))
        })?;
        check_size(json.len(), max)?;
        Ok(json)
    }

    /// [`StoreError::TooLarge`] if the record is over `max` bytes.
    pub fn check_size(&self, max: usize) -> Result<(), StoreError> {
        check_size(self.stored_bytes(), max)
    }
}

fn check_size(bytes: usize, max: usize) -> Result<(), StoreError> {
    if bytes > max {
        return Err(StoreError::TooLarge { bytes, max });
    }
    Ok(())
}

/// Which sessions are over: idle since before `idle_before_ms`, created
/// before `created_before_ms` (too old), created before
/// `uninitialized_before_ms` without completing `initialize`, or tethered
/// and not renewed since `untethered_before_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// Over if last seen before this (Unix ms).
    pub idle_before_ms: u64,
    /// Over if created before this (Unix ms).
    pub created_before_ms: u64,
    /// Over if created before this without finishing `initialize`.
    pub uninitialized_before_ms: u64,
    /// A [tethered](SessionRecord::tethered) session is over if last seen
    /// (renewed) before this.
    pub untethered_before_ms: u64,
}

impl Expiry {
    /// Whether `record` is over by this rule.
    pub fn covers(&self, record: &SessionRecord) -> bool {
        record.last_seen_ms < self.idle_before_ms
            || record.created_at_ms < self.created_before_ms
            || (!record.initialized && record.created_at_ms < self.uninitialized_before_ms)
            || (record.tethered && record.last_seen_ms < self.untethered_before_ms)
    }
}

/// A page of a scan, with the cursor of the next page.
#[derive(Debug)]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last.
    pub next: Option<String>,
}

/// What a store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A session with this id exists already (nothing was written).
    #[error("a session with this id already exists")]
    Exists,
    /// The store cannot be reached or did not answer in time: why.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// What the store holds is not what was written: what.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A session record over the store's bound (nothing was written).
    #[error("the session record takes {bytes} bytes, more than the {max} a session may keep")]
    TooLarge {
        /// The record's size.
        bytes: usize,
        /// The bound.
        max: usize,
    },
}

/// A cap on the live sessions of one group (a tenant, a client identity),
/// and optionally on the bytes their records hold together ([`SessionRecord::stored_bytes`]),
/// checked by [`SessionStore::create_within`] and [`SessionStore::update_within`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// The group's name, e.g. `tenant:acme`; any string.
    pub group: String,
    /// At most this many live sessions of the group.
    pub max: usize,
    /// At most this many bytes of records of the group's live sessions;
    /// `None`: no byte budget.
    pub max_bytes: Option<usize>,
}

/// Whether [`SessionStore::create_within`] stored the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// Stored, and counted in every quota the store keeps.
    Yes,
    /// Not stored: the quota at this index of the list given is full.
    Refused(usize),
    /// Not stored: the record does not fit in the byte budget of the quota
    /// at this index.
    OverBytes(usize),
}

/// Whether [`SessionStore::update_within`] replaced the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updated {
    /// Replaced, and its new size counted in every byte budget the store keeps.
    Yes,
    /// The session is gone.
    Gone,
    /// Not replaced: the record grew past the byte budget of the quota at
    /// this index.
    OverBytes(usize),
}

/// Durable session records. Every method may cross a network, so callers
/// batch what they can and never hold a lock across a call.
///
/// A store keeps no record over its bound on [`SessionRecord::stored_bytes`]
/// (its `with_max_record_bytes`, [`DEFAULT_MAX_RECORD_BYTES`] unless set):
/// `create`, `create_within`, `update` and `update_within` refuse a larger
/// one with [`StoreError::TooLarge`] and leave what was stored as it was.
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
    /// `update`, counting the record's new size in the byte budgets of the
    /// quotas it was admitted under (a record that grows past one is not
    /// written) — atomically across every node sharing the store. The
    /// default counts nothing (it is `update`), as `create_within`'s does.
    async fn update_within(
        &self,
        record: &SessionRecord,
        quotas: &[Quota],
    ) -> Result<Updated, StoreError> {
        let _ = quotas;
        let replaced = self.update(record).await?;
        Ok(if replaced {
            Updated::Yes
        } else {
            Updated::Gone
        })
    }
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
    /// [`load`](Self::load), shared: a store keeping its records in this
    /// process hands out its own (a request's session is loaded on every
    /// request, and read, not changed). The default wraps `load`'s.
    async fn load_shared(&self, id: &str) -> Result<Option<Arc<SessionRecord>>, StoreError> {
        Ok(self.load(id).await?.map(Arc::new))
    }
    /// [`load_and_touch`](Self::load_and_touch), shared as
    /// [`load_shared`](Self::load_shared) is.
    async fn load_and_touch_shared(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<Arc<SessionRecord>>, StoreError> {
        Ok(self.load_and_touch(id, now_ms).await?.map(Arc::new))
    }
    /// Renew the [tethered](SessionRecord::tethered) sessions of `ids`
    /// that are still held (their connections are open on this node): their
    /// `last_seen_ms` moves forward to `now_ms`. The default touches each;
    /// a store across a network does all in one round trip.
    async fn renew(&self, ids: &[String], now_ms: u64) -> Result<(), StoreError> {
        for id in ids {
            self.touch(id, now_ms).await?;
        }
        Ok(())
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
    /// Which of `ids` the store still holds, in their order (a node checks
    /// the sessions it holds a live part of: one whose end it was not told
    /// of is gone here). One round trip where the backend can.
    async fn held(&self, ids: &[String]) -> Result<Vec<bool>, StoreError> {
        let mut held = Vec::with_capacity(ids.len());
        for id in ids {
            held.push(self.load(id).await?.is_some());
        }
        Ok(held)
    }
}
