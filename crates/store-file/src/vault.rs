//! `FileVaultStore`: the vault's sealed entries by (tenant, name), so a
//! single node's grants and tokens survive its restart.

use async_trait::async_trait;
use redb::Durability;
use switchboard_store::{StoreError, VaultStore};

use crate::FileStore;
use crate::tables::VAULT;

/// The vault's entries in the database file.
#[derive(Debug, Clone)]
pub struct FileVaultStore {
    file: FileStore,
}

impl FileVaultStore {
    pub(crate) fn new(file: FileStore) -> Self {
        Self { file }
    }
}

#[async_trait]
impl VaultStore for FileVaultStore {
    async fn put(&self, tenant: &str, name: &str, sealed: &[u8]) -> Result<(), StoreError> {
        let (tenant, name, sealed) = (tenant.to_owned(), name.to_owned(), sealed.to_vec());
        self.file
            .run(move |db| {
                let mut txn = db.begin_write()?;
                txn.set_durability(Durability::Immediate);
                txn.open_table(VAULT)?
                    .insert((tenant.as_str(), name.as_str()), sealed.as_slice())?;
                txn.commit()?;
                Ok(())
            })
            .await
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.file
            .run(move |db| {
                let txn = db.begin_read()?;
                let table = txn.open_table(VAULT)?;
                Ok(table
                    .get((tenant.as_str(), name.as_str()))?
                    .map(|v| v.value().to_vec()))
            })
            .await
    }

    async fn delete(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        self.file
            .run(move |db| {
                let mut txn = db.begin_write()?;
                txn.set_durability(Durability::Immediate);
                let removed = txn
                    .open_table(VAULT)?
                    .remove((tenant.as_str(), name.as_str()))?
                    .is_some();
                txn.commit()?;
                Ok(removed)
            })
            .await
    }

    async fn names(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        let tenant = tenant.to_owned();
        self.file
            .run(move |db| {
                let txn = db.begin_read()?;
                let table = txn.open_table(VAULT)?;
                let mut names = Vec::new();
                for entry in table.range((tenant.as_str(), "")..)? {
                    let (key, _) = entry?;
                    let (t, name) = key.value();
                    if t != tenant {
                        break;
                    }
                    names.push(name.to_owned());
                }
                Ok(names)
            })
            .await
    }
}
