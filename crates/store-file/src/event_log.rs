//! `FileEventLog`: each session's events in append order, bounded by count
//! and bytes like the memory log (the oldest go first when it is full).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};
use switchboard_store::{EventId, EventLog, StoreError, StoredEvent};

use crate::FileStore;
use crate::error::Fail;
use crate::tables::{EVENTS, LOGS, SEQS};

/// Event logs in the database file.
#[derive(Debug)]
pub struct FileEventLog {
    file: FileStore,
    max_events: u64,
    max_bytes: u64,
    /// Bytes held by every log: summed once at open, then kept current.
    total_bytes: Arc<AtomicUsize>,
}

/// (next order, events held, bytes held) of one session's log.
type Meta = (u64, u64, u64);

impl FileEventLog {
    pub(crate) fn new(file: FileStore, max_events: usize, max_bytes: usize) -> Result<Self, Fail> {
        let mut total = 0u64;
        for entry in file.db.begin_read()?.open_table(LOGS)?.iter()? {
            total += entry?.1.value().2;
        }
        Ok(Self {
            file,
            max_events: max_events.max(1) as u64,
            max_bytes: max_bytes.max(1) as u64,
            total_bytes: Arc::new(AtomicUsize::new(total as usize)),
        })
    }
}

fn encode(id: EventId, data: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + data.len());
    v.extend_from_slice(&id.stream.to_le_bytes());
    v.extend_from_slice(&id.seq.to_le_bytes());
    v.extend_from_slice(data.as_bytes());
    v
}

fn decode(bytes: &[u8]) -> Result<StoredEvent, Fail> {
    let corrupt = || Fail::Corrupt("an event shorter than its header".into());
    let word = |at: usize| -> Result<u64, Fail> {
        let b = bytes.get(at..at + 8).ok_or_else(corrupt)?;
        Ok(u64::from_le_bytes(b.try_into().map_err(|_| corrupt())?))
    };
    let id = EventId {
        stream: word(0)?,
        seq: word(8)?,
    };
    let data =
        std::str::from_utf8(&bytes[16..]).map_err(|e| Fail::Corrupt(format!("event {id}: {e}")))?;
    Ok(StoredEvent {
        id,
        data: data.into(),
    })
}

/// Append within `txn`; returns the id and the change in bytes held.
fn append(
    txn: &WriteTransaction,
    session: &str,
    stream: u64,
    data: &str,
    limits: (u64, u64),
) -> Result<(EventId, i64), Fail> {
    let mut logs = txn.open_table(LOGS)?;
    let (mut next, mut count, mut bytes): Meta =
        logs.get(session)?.map_or((0, 0, 0), |m| m.value());
    let mut seqs = txn.open_table(SEQS)?;
    let seq = seqs.get((session, stream))?.map_or(0, |s| s.value()) + 1;
    seqs.insert((session, stream), seq)?;
    let id = EventId { stream, seq };
    let mut events = txn.open_table(EVENTS)?;
    events.insert((session, next), encode(id, data).as_slice())?;
    next += 1;
    count += 1;
    bytes += data.len() as u64;
    let mut delta = data.len() as i64;
    while count > limits.0 || (bytes > limits.1 && count > 1) {
        let oldest = match events.range((session, 0)..(session, u64::MAX))?.next() {
            Some(entry) => {
                let (k, v) = entry?;
                (k.value().1, v.value().len() as u64 - 16)
            }
            None => break,
        };
        events.remove((session, oldest.0))?;
        count -= 1;
        bytes -= oldest.1;
        delta -= oldest.1 as i64;
    }
    logs.insert(session, (next, count, bytes))?;
    Ok((id, delta))
}

/// Remove a session's log within `txn`; returns the bytes it held.
fn drop_log(txn: &WriteTransaction, session: &str) -> Result<u64, Fail> {
    let held = txn
        .open_table(LOGS)?
        .remove(session)?
        .map_or(0, |m| m.value().2);
    txn.open_table(EVENTS)?
        .retain_in((session, 0)..=(session, u64::MAX), |_, _| false)?;
    txn.open_table(SEQS)?
        .retain_in((session, 0)..=(session, u64::MAX), |_, _| false)?;
    Ok(held)
}

impl FileEventLog {
    fn apply(&self, delta: i64) {
        if delta >= 0 {
            self.total_bytes.fetch_add(delta as usize, Relaxed);
        } else {
            self.total_bytes
                .fetch_sub(delta.unsigned_abs() as usize, Relaxed);
        }
    }
}

#[async_trait]
impl EventLog for FileEventLog {
    async fn append(
        &self,
        session: &str,
        stream: u64,
        data: Arc<str>,
    ) -> Result<EventId, StoreError> {
        let session = session.to_owned();
        let limits = (self.max_events, self.max_bytes);
        let (id, delta) = self
            .file
            .run(move |db| {
                let txn = db.begin_write()?;
                let out = append(&txn, &session, stream, &data, limits)?;
                txn.commit()?;
                Ok(out)
            })
            .await?;
        self.apply(delta);
        Ok(id)
    }

    async fn read_after(
        &self,
        session: &str,
        after: EventId,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let session = session.to_owned();
        self.file
            .run(move |db| {
                let events = db.begin_read()?.open_table(EVENTS)?;
                let mut out = Vec::new();
                for entry in events.range((session.as_str(), 0)..=(session.as_str(), u64::MAX))? {
                    let event = decode(entry?.1.value())?;
                    if event.id.stream == after.stream && event.id.seq > after.seq {
                        out.push(event);
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn drop_session(&self, session: &str) -> Result<(), StoreError> {
        let session = session.to_owned();
        let held = self
            .file
            .run(move |db| {
                let txn = db.begin_write()?;
                let held = drop_log(&txn, &session)?;
                txn.commit()?;
                Ok(held)
            })
            .await?;
        self.apply(-(held as i64));
        Ok(())
    }

    fn bytes(&self) -> usize {
        self.total_bytes.load(Relaxed)
    }
}
