//! The tables of the database file.

use redb::{Database, TableDefinition};

use crate::error::Fail;

/// Session records as JSON, by id.
pub(crate) const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// (last_seen_ms, id): the longest-idle session and idle expiry by range.
pub(crate) const BY_LAST_SEEN: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("sessions_by_last_seen");
/// (created_at_ms, id): expiry by age and unfinished `initialize` by range.
pub(crate) const BY_CREATED: TableDefinition<(u64, &str), ()> =
    TableDefinition::new("sessions_by_created");
/// (session, order) → stream, seq and data of one event, oldest first.
pub(crate) const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("events");
/// session → (next order, events held, bytes held).
pub(crate) const LOGS: TableDefinition<&str, (u64, u64, u64)> = TableDefinition::new("event_logs");
/// (session, stream) → the last sequence number given out on that stream.
pub(crate) const SEQS: TableDefinition<(&str, u64), u64> = TableDefinition::new("event_seqs");

/// Tasks by id: (version, record as JSON).
pub(crate) const TASKS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("tasks");
/// (principal, task id) → expiry (ms): a principal's tasks, for its cap.
pub(crate) const TASKS_BY_PRINCIPAL: TableDefinition<(&str, &str), u64> =
    TableDefinition::new("tasks_by_principal");

/// The vault's sealed entries: (tenant, name) → sealed bytes.
pub(crate) const VAULT: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("vault");
/// Pinned tool definitions: (upstream, tool) → approved and pending
/// definitions (JSON).
pub(crate) const PINS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("pins");

/// The authorization server's grants and registered clients: (kind,
/// name) → JSON.
pub(crate) const OAUTH: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("oauth");

/// Create every table, so read transactions always find them.
pub(crate) fn create_all(db: &Database) -> Result<(), Fail> {
    let txn = db.begin_write()?;
    txn.open_table(SESSIONS)?;
    txn.open_table(BY_LAST_SEEN)?;
    txn.open_table(BY_CREATED)?;
    txn.open_table(EVENTS)?;
    txn.open_table(LOGS)?;
    txn.open_table(SEQS)?;
    txn.open_table(TASKS)?;
    txn.open_table(TASKS_BY_PRINCIPAL)?;
    txn.open_table(VAULT)?;
    txn.open_table(PINS)?;
    txn.open_table(OAUTH)?;
    txn.commit()?;
    Ok(())
}
