//! `FileTaskStore`: task records (version and JSON) by id, and an index of
//! each principal's tasks with their expiry, for its cap. A single node's
//! tasks survive its restart; a task it was running is taken over (run
//! again) by the restarted node once the old lease has run out.

use async_trait::async_trait;
use redb::{Durability, ReadableTable};
use switchboard_store::{Admitted, Quota, StoreError, TaskRecord, TaskStore, Versioned, now_ms};

use crate::FileStore;
use crate::error::Fail;
use crate::tables::{TASKS, TASKS_BY_PRINCIPAL};

/// Tasks in the database file.
#[derive(Debug, Clone)]
pub struct FileTaskStore {
    file: FileStore,
}

impl FileTaskStore {
    pub(crate) fn new(file: FileStore) -> Self {
        Self { file }
    }
}

fn encode(r: &TaskRecord) -> Result<Vec<u8>, Fail> {
    serde_json::to_vec(r).map_err(|e| Fail::Corrupt(format!("task {}: {e}", r.id)))
}

fn decode(id: &str, version: u64, bytes: &[u8]) -> Result<Versioned, Fail> {
    let record =
        serde_json::from_slice(bytes).map_err(|e| Fail::Corrupt(format!("task {id}: {e}")))?;
    Ok(Versioned { version, record })
}

/// Drop the principal's expired tasks; returns how many live ones it has.
fn prune(txn: &redb::WriteTransaction, principal: &str, now: u64) -> Result<usize, Fail> {
    let mut index = txn.open_table(TASKS_BY_PRINCIPAL)?;
    let mut expired = Vec::new();
    let mut live = 0;
    for entry in index.range((principal, "")..)? {
        let (key, expires) = entry?;
        let (p, id) = key.value();
        if p != principal {
            break;
        }
        if expires.value() <= now {
            expired.push(id.to_owned());
        } else {
            live += 1;
        }
    }
    let mut tasks = txn.open_table(TASKS)?;
    for id in &expired {
        index.remove((principal, id.as_str()))?;
        tasks.remove(id.as_str())?;
    }
    Ok(live)
}

#[async_trait]
impl TaskStore for FileTaskStore {
    async fn create(&self, record: &TaskRecord, quota: &Quota) -> Result<Admitted, StoreError> {
        let (record, max) = (record.clone(), quota.max);
        self.file
            .run(move |db| {
                let mut txn = db.begin_write()?;
                txn.set_durability(Durability::Immediate);
                let now = now_ms();
                if prune(&txn, &record.principal, now)? >= max {
                    return Ok(Admitted::Refused(0));
                }
                let mut tasks = txn.open_table(TASKS)?;
                if tasks.get(record.id.as_str())?.is_some() {
                    return Err(Fail::Exists);
                }
                tasks.insert(record.id.as_str(), (1, encode(&record)?.as_slice()))?;
                drop(tasks);
                txn.open_table(TASKS_BY_PRINCIPAL)?.insert(
                    (record.principal.as_str(), record.id.as_str()),
                    record.expires_ms(),
                )?;
                txn.commit()?;
                Ok(Admitted::Yes)
            })
            .await
    }

    async fn load(&self, id: &str) -> Result<Option<Versioned>, StoreError> {
        let id = id.to_owned();
        self.file
            .run(move |db| {
                let txn = db.begin_read()?;
                let Some(v) = txn.open_table(TASKS)?.get(id.as_str())? else {
                    return Ok(None);
                };
                let (version, bytes) = v.value();
                let task = decode(&id, version, bytes)?;
                Ok((task.record.expires_ms() > now_ms()).then_some(task))
            })
            .await
    }

    async fn swap(&self, version: u64, record: &TaskRecord) -> Result<bool, StoreError> {
        let record = record.clone();
        self.file
            .run(move |db| {
                let mut txn = db.begin_write()?;
                txn.set_durability(Durability::Immediate);
                let mut tasks = txn.open_table(TASKS)?;
                let current = tasks.get(record.id.as_str())?.map(|v| v.value().0);
                if current != Some(version) {
                    return Ok(false);
                }
                tasks.insert(
                    record.id.as_str(),
                    (version + 1, encode(&record)?.as_slice()),
                )?;
                drop(tasks);
                txn.commit()?;
                Ok(true)
            })
            .await
    }

    /// A walk over the tasks (one node's, so few): the working ones whose
    /// lease ran out.
    async fn orphans(&self, now: u64, max: usize) -> Result<Vec<String>, StoreError> {
        self.file
            .run(move |db| {
                let txn = db.begin_read()?;
                let mut found = Vec::new();
                for entry in txn.open_table(TASKS)?.iter()? {
                    let (id, v) = entry?;
                    let (version, bytes) = v.value();
                    let task = decode(id.value(), version, bytes)?;
                    let r = &task.record;
                    if r.expires_ms() > now && r.needs_runner(now) {
                        found.push(r.id.clone());
                        if found.len() >= max {
                            break;
                        }
                    }
                }
                Ok(found)
            })
            .await
    }

    async fn list(
        &self,
        principal: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        let (principal, after) = (principal.to_owned(), after.map(str::to_owned));
        self.file
            .run(move |db| {
                let txn = db.begin_read()?;
                let (index, tasks) = (txn.open_table(TASKS_BY_PRINCIPAL)?, txn.open_table(TASKS)?);
                let now = now_ms();
                let start = after.as_deref().unwrap_or("");
                let mut found = Vec::new();
                for entry in index.range((principal.as_str(), start)..)? {
                    let (key, expires) = entry?;
                    let (p, id) = key.value();
                    if p != principal || found.len() >= max {
                        break;
                    }
                    if after.as_deref() == Some(id) || expires.value() <= now {
                        continue;
                    }
                    if let Some(v) = tasks.get(id)? {
                        let (version, bytes) = v.value();
                        found.push(decode(id, version, bytes)?.record);
                    }
                }
                Ok(found)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn passes_the_task_store_suite() {
        let dir = std::env::temp_dir().join(format!("sb-tasks-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let file = crate::FileStore::open(&dir).expect("open");
        switchboard_store::suite::task_store_suite(&file.tasks()).await;
        drop(file);
        let _ = std::fs::remove_file(&dir);
    }
}
