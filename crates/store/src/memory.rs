//! The in-memory `SessionStore`: a lock-free concurrent map of shared
//! records (a request's load hands out the stored one; a change stores a
//! new one).

use std::sync::Arc;

use async_trait::async_trait;

use crate::session::{
    DEFAULT_MAX_RECORD_BYTES, Expiry, Page, SessionRecord, SessionStore, StoreError,
};

/// Sessions kept in this process's memory; the default for a single node.
#[derive(Debug)]
pub struct MemorySessionStore {
    /// Keyed by session ids, which the server made (so foldhash, not
    /// SipHash).
    map: papaya::HashMap<String, Arc<SessionRecord>, foldhash::fast::RandomState>,
    max_record_bytes: usize,
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self {
            map: papaya::HashMap::default(),
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

impl MemorySessionStore {
    /// An empty store with the default record bound
    /// ([`crate::DEFAULT_MAX_RECORD_BYTES`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Keep no record over `max` bytes ([`SessionRecord::stored_bytes`]).
    pub fn with_max_record_bytes(mut self, max: usize) -> Self {
        self.max_record_bytes = max;
        self
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, record: SessionRecord) -> Result<(), StoreError> {
        record.check_size(self.max_record_bytes)?;
        let map = self.map.pin();
        match map.try_insert(record.id.clone(), Arc::new(record)) {
            Ok(_) => Ok(()),
            Err(_) => Err(StoreError::Exists),
        }
    }

    async fn load(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.map.pin().get(id).map(|r| SessionRecord::clone(r)))
    }

    async fn load_shared(&self, id: &str) -> Result<Option<Arc<SessionRecord>>, StoreError> {
        Ok(self.map.pin().get(id).cloned())
    }

    async fn load_and_touch_shared(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<Arc<SessionRecord>>, StoreError> {
        let map = self.map.pin();
        Ok(map
            .update(id.to_owned(), |old| touched(old, now_ms))
            .cloned())
    }

    async fn update(&self, record: &SessionRecord) -> Result<bool, StoreError> {
        record.check_size(self.max_record_bytes)?;
        let map = self.map.pin();
        let updated = map.update(record.id.clone(), |_| Arc::new(record.clone()));
        Ok(updated.is_some())
    }

    async fn touch(&self, id: &str, now_ms: u64) -> Result<bool, StoreError> {
        let map = self.map.pin();
        let updated = map.update(id.to_owned(), |old| touched(old, now_ms));
        Ok(updated.is_some())
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.map.pin().remove(id).is_some())
    }

    async fn scan(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<SessionRecord>, StoreError> {
        // The cursor is the last id returned; ids are compared in order so a
        // scan is stable while sessions come and go.
        let map = self.map.pin();
        let mut items: Vec<SessionRecord> = map
            .iter()
            .filter(|(k, _)| cursor.is_none_or(|c| k.as_str() > c))
            .map(|(_, v)| SessionRecord::clone(v))
            .collect();
        items.sort_by(|a, b| a.id.cmp(&b.id));
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn expire(&self, rule: Expiry) -> Result<Vec<String>, StoreError> {
        let expired = |r: &SessionRecord| rule.covers(r);
        let map = self.map.pin();
        let candidates: Vec<String> = map
            .iter()
            .filter(|(_, r)| expired(r))
            .map(|(k, _)| k.clone())
            .collect();
        // Re-check under the map's own compare-and-remove: a session touched
        // since the scan stays.
        let dead = candidates
            .into_iter()
            .filter(|id| matches!(map.remove_if(id, |_, r| expired(r)), Ok(Some(_))))
            .collect();
        Ok(dead)
    }

    async fn count(&self) -> Result<usize, StoreError> {
        Ok(self.map.len())
    }

    async fn longest_idle(&self, idle_before_ms: u64) -> Result<Option<String>, StoreError> {
        // A walk of the table: only made when it is full.
        let map = self.map.pin();
        Ok(map
            .iter()
            .filter(|(_, r)| r.last_seen_ms < idle_before_ms)
            .min_by_key(|(_, r)| r.last_seen_ms)
            .map(|(k, _)| k.clone()))
    }
}

/// `old`, last seen at `now_ms` at the earliest.
fn touched(old: &SessionRecord, now_ms: u64) -> Arc<SessionRecord> {
    let mut r = old.clone();
    r.last_seen_ms = r.last_seen_ms.max(now_ms);
    Arc::new(r)
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn passes_the_store_suite() {
        crate::suite::session_store_suite(&super::MemorySessionStore::new()).await;
    }

    #[tokio::test]
    async fn keeps_no_record_over_its_bound() {
        let max = crate::suite::RECORD_BOUND;
        let store = super::MemorySessionStore::new().with_max_record_bytes(max);
        crate::suite::record_bound_suite(&store, max).await;
    }
}
