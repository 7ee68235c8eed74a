//! State seams of Switchboard and their in-memory backends.
//!
//! Durable state (session records, per-stream event logs, tasks) is plain serializable
//! data behind async traits, so that a backend may keep it in another process
//! (Redis) or on disk (an embedded database) without the callers changing.
//! Nothing here assumes that a session lives in this process: live things
//! (open streams, waiting handlers) belong to the server's per-node registry.

#![warn(missing_docs)]

mod bus;
mod entries;
mod event_log;
mod memory;
mod owner;
mod session;
#[cfg(any(test, feature = "testing"))]
pub mod suite;
mod task;

pub use bus::{BusMessage, SessionBus};
pub use entries::{EntryStore, MemoryEntryStore, Space};
pub use event_log::{EventId, EventLog, MemoryEventLog, STANDALONE_STREAM, StoredEvent};
pub use memory::MemorySessionStore;
pub use owner::{Claim, SessionOwners};
pub use session::{
    Admitted, DEFAULT_MAX_RECORD_BYTES, Expiry, Page, Quota, SessionRecord, SessionStore,
    StoreError, Updated, json_len, now_ms,
};
pub use task::{MemoryTaskStore, TaskRecord, TaskStatus, TaskStore, Versioned};
