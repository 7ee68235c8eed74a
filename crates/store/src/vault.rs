//! The token vault's storage: sealed credentials (grants, exchanged
//! tokens) by tenant and entry, where every node can read them. What is
//! stored is already encrypted (the vault seals before it puts); a backend
//! sees opaque bytes and the names of entries, never a credential.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::session::StoreError;

/// Sealed entries, by tenant and entry name. Every operation touches one
/// tenant's entries only, so a backend may keep a tenant's entries under
/// one key (one Redis hash).
#[async_trait]
pub trait VaultStore: Send + Sync + std::fmt::Debug {
    /// Put `sealed` as `tenant`'s entry `name`, replacing what was there.
    async fn put(&self, tenant: &str, name: &str, sealed: &[u8]) -> Result<(), StoreError>;

    /// `tenant`'s entry `name`, if there is one.
    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Remove `tenant`'s entry `name`; whether there was one.
    async fn delete(&self, tenant: &str, name: &str) -> Result<bool, StoreError>;

    /// The names of `tenant`'s entries, in order.
    async fn names(&self, tenant: &str) -> Result<Vec<String>, StoreError>;
}

/// The vault's entries in this process's memory (`store = "memory"`).
#[derive(Debug, Default)]
pub struct MemoryVaultStore {
    tenants: Mutex<HashMap<String, BTreeMap<String, Vec<u8>>>>,
}

impl MemoryVaultStore {
    /// An empty vault store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl VaultStore for MemoryVaultStore {
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
        crate::suite::vault_store_suite(&super::MemoryVaultStore::new()).await;
    }
}
