//! The file backend of Switchboard's state seams (`store = "file"`): a
//! `SessionStore`, an `EventLog` and a `TaskStore` on one embedded redb
//! database, so that a single node's sessions, event logs and tasks survive
//! a restart.
//!
//! redb is synchronous, so every transaction runs on tokio's blocking pool
//! (`spawn_blocking`) and never stalls a runtime worker on a disk flush.
//! A change is acknowledged only once its transaction has committed with
//! `Durability::Immediate` (flushed to disk), except `touch`, which commits
//! with `Durability::Eventual`: written to the file but not flushed, so it
//! survives a killed process but an operating-system crash may lose the last
//! idle-time updates (a session then looks idle a little longer than it is).

#![warn(missing_docs)]

mod entries;
mod error;
mod event_log;
mod session;
mod tables;
mod task;

use std::path::Path;
use std::sync::Arc;

use redb::Database;
use switchboard_store::StoreError;

pub use entries::FileEntryStore;
pub use event_log::FileEventLog;
pub use session::FileSessionStore;
pub use task::FileTaskStore;

use error::Fail;

/// One open database file, shared by the session store and the event log.
#[derive(Debug, Clone)]
pub struct FileStore {
    db: Arc<Database>,
}

impl FileStore {
    /// Open the database at `path`, creating the file (not its directory)
    /// if it does not exist. Fails if another process has it open.
    pub fn open(path: &Path) -> Result<Self, String> {
        let db = Database::create(path).map_err(|e| e.to_string())?;
        tables::create_all(&db).map_err(|e| e.to_string())?;
        Ok(Self { db: Arc::new(db) })
    }

    /// The session store on this file.
    pub fn sessions(&self) -> FileSessionStore {
        FileSessionStore::new(self.clone())
    }

    /// The task store on this file.
    pub fn tasks(&self) -> FileTaskStore {
        FileTaskStore::new(self.clone())
    }

    /// The entries of `space` on this file.
    pub fn entries(&self, space: switchboard_store::Space) -> FileEntryStore {
        FileEntryStore::new(self.clone(), space)
    }

    /// The event log on this file, bounded per session like the memory one.
    pub fn event_log(&self, max_events: usize, max_bytes: usize) -> Result<FileEventLog, String> {
        FileEventLog::new(self.clone(), max_events, max_bytes).map_err(|e| e.to_string())
    }

    /// Run `f` on the blocking pool with the database.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, Fail> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StoreError::Unavailable(format!("file store task: {e}")))?
            .map_err(StoreError::from)
    }
}
