//! Named entries in groups, where every node can read them: the token
//! vault's sealed credentials (grants, exchanged tokens) by tenant, and the
//! approved tool definitions (pins) by upstream. Each kind is kept in its
//! own [`Space`]. The vault's entries are already encrypted (it seals
//! before it puts); a backend sees opaque bytes and the names of entries,
//! never a credential.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::session::StoreError;

/// Which entries a store holds: a backend keeps each space apart (its own
/// table, its own keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// The token vault's sealed entries, by tenant.
    Vault,
    /// Approved tool definitions, by upstream.
    Pins,
    /// The authorization server's grants and registered clients, by kind.
    OAuth,
}

impl Space {
    /// A short name for keys and tables: `vault`, `pins`, `oauth`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vault => "vault",
            Self::Pins => "pins",
            Self::OAuth => "oauth",
        }
    }
}

/// Entries by group (a tenant, an upstream) and entry name, as bytes.
/// Every operation touches one group's entries only, so a backend may keep
/// a group's entries under one key (one Redis hash).
#[async_trait]
pub trait EntryStore: Send + Sync + std::fmt::Debug {
    /// Put `sealed` as `tenant`'s entry `name`, replacing what was there.
    async fn put(&self, tenant: &str, name: &str, sealed: &[u8]) -> Result<(), StoreError>;

    /// `tenant`'s entry `name`, if there is one.
    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Remove `tenant`'s entry `name`; whether there was one.
    async fn delete(&self, tenant: &str, name: &str) -> Result<bool, StoreError>;

    /// The names of `tenant`'s entries, in order.
    async fn names(&self, tenant: &str) -> Result<Vec<String>, StoreError>;

    /// Every entry of `group`, by name, in order. By default one `get` per
    /// name; a backend that can read a group at once does.
    async fn entries(&self, group: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for name in self.names(group).await? {
            if let Some(bytes) = self.get(group, &name).await? {
                out.push((name, bytes));
            }
        }
        Ok(out)
    }
}

/// Entries in this process's memory (`store = "memory"`).
#[derive(Debug, Default)]
pub struct MemoryEntryStore {
    tenants: Mutex<HashMap<String, BTreeMap<String, Vec<u8>>>>,
}

impl MemoryEntryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl EntryStore for MemoryEntryStore {
    async fn put(&self, tenant: &str, name: &str, sealed: &[u8]) -> Result<(), StoreError> {
        self.tenants
            .lock()
            .entry(tenant.to_owned())
            .or_default()
            .insert(name.to_owned(), sealed.to_vec());
        Ok(())
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .get(tenant)
            .and_then(|t| t.get(name).cloned()))
    }

    async fn delete(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let mut tenants = self.tenants.lock();
        let Some(entries) = tenants.get_mut(tenant) else {
            return Ok(false);
        };
        let removed = entries.remove(name).is_some();
        if entries.is_empty() {
            tenants.remove(tenant);
        }
        Ok(removed)
    }

    async fn names(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .tenants
            .lock()
            .get(tenant)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn passes_the_vault_suite() {
        crate::suite::entry_store_suite(&super::MemoryEntryStore::new()).await;
    }
}
