//! `FileEntryStore`: entries of one space by (group, name) — the vault's
//! sealed entries by tenant, pins by upstream — so a single node's grants,
//! tokens and approvals survive its restart.

use async_trait::async_trait;
use redb::Durability;
use switchboard_store::{EntryStore, Space, StoreError};

use crate::FileStore;
use crate::tables::{OAUTH, PINS, VAULT};

/// Entries of one space in the database file.
#[derive(Debug, Clone)]
pub struct FileEntryStore {
    file: FileStore,
    space: Space,
}

type Table = redb::TableDefinition<'static, (&'static str, &'static str), &'static [u8]>;

impl FileEntryStore {
    pub(crate) fn new(file: FileStore, space: Space) -> Self {
        Self { file, space }
    }

    fn table(&self) -> Table {
        match self.space {
            Space::Vault => VAULT,
            Space::Pins => PINS,
            Space::OAuth => OAUTH,
        }
    }
}

#[async_trait]
impl EntryStore for FileEntryStore {
    async fn put(&self, tenant: &str, name: &str, sealed: &[u8]) -> Result<(), StoreError> {
        let (tenant, name, sealed) = (tenant.to_owned(), name.to_owned(), sealed.to_vec());
        let table = self.table();
        self.file
            .run(move |db| {
                let mut txn = db.begin_write()?;
                txn.set_durability(Durability::Immediate);
                txn.open_table(table)?
                    .insert((tenant.as_str(), name.as_str()), sealed.as_slice())?;
                txn.commit()?;
                Ok(())
            })
            .await
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        let table = self.table();
        self.file
            .run(move |db| {
                let txn = db.begin_read()?;
                let table = txn.open_table(table)?;
                Ok(table
                    .get((tenant.as_str(), name.as_str()))?
                    .map(|v| v.value().to_vec()))
            })
            .await
    }

    async fn delete(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let (tenant, name) = (tenant.to_owned(), name.to_owned());
        let table = self.table();
        self.file
            .run(move |db| {
                let mut txn = db.begin_write()?;
                txn.set_durability(Durability::Immediate);
                let removed = txn
                    .open_table(table)?
                    .remove((tenant.as_str(), name.as_str()))?
                    .is_some();
                txn.commit()?;
                Ok(removed)
            })
            .await
    }

    async fn names(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        let tenant = tenant.to_owned();
        let table = self.table();
        self.file
            .run(move |db| {
                let txn = db.begin_read()?;
                let table = txn.open_table(table)?;
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
