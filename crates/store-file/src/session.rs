//! `FileSessionStore`: session records with two indexes (by last-seen and by
//! creation time), so counting, expiry and the eviction candidate never walk
//! every record.

use std::collections::BTreeSet;

use async_trait::async_trait;
use redb::{Durability, ReadableTable, ReadableTableMetadata, Table, WriteTransaction};
use switchboard_store::{
    DEFAULT_MAX_RECORD_BYTES, Expiry, Page, SessionRecord, SessionStore, StoreError,
};

use crate::FileStore;
use crate::error::Fail;
use crate::tables::{BY_CREATED, BY_LAST_SEEN, SESSIONS};

/// Sessions in the database file.
#[derive(Debug, Clone)]
pub struct FileSessionStore {
    file: FileStore,
    max_record_bytes: usize,
}

impl FileSessionStore {
    pub(crate) fn new(file: FileStore) -> Self {
        Self {
            file,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }

    /// Keep no record over `max` bytes ([`SessionRecord::stored_bytes`]).
    pub fn with_max_record_bytes(mut self, max: usize) -> Self {
        self.max_record_bytes = max;
        self
    }
}

fn encode(r: &SessionRecord) -> Result<Vec<u8>, Fail> {
    serde_json::to_vec(r).map_err(|e| Fail::Corrupt(format!("session {}: {e}", r.id)))
}

fn decode(id: &str, bytes: &[u8]) -> Result<SessionRecord, Fail> {
    serde_json::from_slice(bytes).map_err(|e| Fail::Corrupt(format!("session {id}: {e}")))
}

fn get(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    id: &str,
) -> Result<Option<SessionRecord>, Fail> {
    match table.get(id)? {
        Some(v) => decode(id, v.value()).map(Some),
        None => Ok(None),
    }
}

/// Write `new` (replacing `old`, if any) as `json` (its encoding) with its
/// index entries.
fn put(
    txn: &WriteTransaction,
    old: Option<&SessionRecord>,
    new: &SessionRecord,
    json: &[u8],
) -> Result<(), Fail> {
    let mut by_seen = txn.open_table(BY_LAST_SEEN)?;
    let mut by_created = txn.open_table(BY_CREATED)?;
    if let Some(o) = old {
        by_seen.remove((o.last_seen_ms, o.id.as_str()))?;
        by_created.remove((o.created_at_ms, o.id.as_str()))?;
    }
    by_seen.insert((new.last_seen_ms, new.id.as_str()), ())?;
    by_created.insert((new.created_at_ms, new.id.as_str()), ())?;
    txn.open_table(SESSIONS)?.insert(new.id.as_str(), json)?;
    Ok(())
}

/// Remove a session and its index entries; returns whether it existed.
fn remove(txn: &WriteTransaction, id: &str) -> Result<bool, Fail> {
    let Some(old) = get(&txn.open_table(SESSIONS)?, id)? else {
        return Ok(false);
    };
    txn.open_table(SESSIONS)?.remove(id)?;
    txn.open_table(BY_LAST_SEEN)?
        .remove((old.last_seen_ms, id))?;
    txn.open_table(BY_CREATED)?
        .remove((old.created_at_ms, id))?;
    Ok(true)
}

/// Ids in an index whose time is below `before`.
fn ids_before(
    index: &Table<'_, (u64, &'static str), ()>,
    before: u64,
) -> Result<Vec<String>, Fail> {
    let mut ids = Vec::new();
    for entry in index.range(..(before, ""))? {
        ids.push(entry?.0.value().1.to_owned());
    }
    Ok(ids)
}

/// The ids `rule` covers, found through the indexes.
fn expired(txn: &WriteTransaction, rule: Expiry) -> Result<BTreeSet<String>, Fail> {
    let by_last_seen = txn.open_table(BY_LAST_SEEN)?;
    let mut dead: BTreeSet<String> = ids_before(&by_last_seen, rule.idle_before_ms)?
        .into_iter()
        .collect();
    let by_created = txn.open_table(BY_CREATED)?;
    dead.extend(ids_before(&by_created, rule.created_before_ms)?);
    let sessions = txn.open_table(SESSIONS)?;
    for id in ids_before(&by_created, rule.uninitialized_before_ms)? {
        if get(&sessions, &id)?.is_some_and(|r| !r.initialized) {
            dead.insert(id);
        }
    }
    // A tethered session's renewal is its `last seen`.
    for id in ids_before(&by_last_seen, rule.untethered_before_ms)? {
        if get(&sessions, &id)?.is_some_and(|r| r.tethered) {
            dead.insert(id);
        }
    }
    Ok(dead)
}

#[async_trait]
impl SessionStore for FileSessionStore {
    async fn create(&self, record: SessionRecord) -> Result<(), StoreError> {
        let json = record.encode_within(self.max_record_bytes)?;
        self.file
            .run(move |db| {
                let txn = db.begin_write()?;
                if txn.open_table(SESSIONS)?.get(record.id.as_str())?.is_some() {
                    return Err(Fail::Exists);
                }
                put(&txn, None, &record, &json)?;
                txn.commit()?;
                Ok(())
            })
            .await
    }

    async fn load(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let id = id.to_owned();
        self.file
            .run(move |db| get(&db.begin_read()?.open_table(SESSIONS)?, &id))
            .await
    }

    async fn update(&self, record: &SessionRecord) -> Result<bool, StoreError> {
        let json = record.encode_within(self.max_record_bytes)?;
        let record = record.clone();
        self.file
            .run(move |db| {
                let txn = db.begin_write()?;
                let Some(old) = get(&txn.open_table(SESSIONS)?, &record.id)? else {
                    return Ok(false);
                };
                put(&txn, Some(&old), &record, &json)?;
                txn.commit()?;
                Ok(true)
            })
            .await
    }

    async fn touch(&self, id: &str, now_ms: u64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.file
            .run(move |db| {
                let mut txn = db.begin_write()?;
                txn.set_durability(Durability::Eventual);
                let Some(old) = get(&txn.open_table(SESSIONS)?, &id)? else {
                    return Ok(false);
                };
                if now_ms > old.last_seen_ms {
                    let mut new = old.clone();
                    new.last_seen_ms = now_ms;
                    // A later time is no growth the bound is about.
                    put(&txn, Some(&old), &new, &encode(&new)?)?;
                    txn.commit()?;
                }
                Ok(true)
            })
            .await
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.file
            .run(move |db| {
                let txn = db.begin_write()?;
                let existed = remove(&txn, &id)?;
                txn.commit()?;
                Ok(existed)
            })
            .await
    }

    async fn scan(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<SessionRecord>, StoreError> {
        // The cursor is the last id returned: ids are the table's order.
        let cursor = cursor.map(str::to_owned);
        self.file
            .run(move |db| {
                let table = db.begin_read()?.open_table(SESSIONS)?;
                let range = match &cursor {
                    Some(c) => table.range::<&str>((
                        std::ops::Bound::Excluded(c.as_str()),
                        std::ops::Bound::Unbounded,
                    ))?,
                    None => table.range::<&str>(..)?,
                };
                let mut items = Vec::new();
                for entry in range.take(limit.saturating_add(1)) {
                    let (k, v) = entry?;
                    items.push(decode(k.value(), v.value())?);
                }
                let next = if items.len() > limit {
                    items.truncate(limit);
                    items.last().map(|r| r.id.clone())
                } else {
                    None
                };
                Ok(Page { items, next })
            })
            .await
    }

    async fn expire(&self, rule: Expiry) -> Result<Vec<String>, StoreError> {
        // One write transaction: nothing can touch a session between the
        // index lookup and its removal.
        self.file
            .run(move |db| {
                let txn = db.begin_write()?;
                let dead = expired(&txn, rule)?;
                for id in &dead {
                    remove(&txn, id)?;
                }
                txn.commit()?;
                Ok(dead.into_iter().collect())
            })
            .await
    }

    async fn count(&self) -> Result<usize, StoreError> {
        self.file
            .run(|db| Ok(db.begin_read()?.open_table(SESSIONS)?.len()? as usize))
            .await
    }

    async fn longest_idle(&self, idle_before_ms: u64) -> Result<Option<String>, StoreError> {
        self.file
            .run(move |db| {
                let index = db.begin_read()?.open_table(BY_LAST_SEEN)?;
                let Some((key, _)) = index.first()? else {
                    return Ok(None);
                };
                let (seen, id) = key.value();
                Ok((seen < idle_before_ms).then(|| id.to_owned()))
            })
            .await
    }
}
