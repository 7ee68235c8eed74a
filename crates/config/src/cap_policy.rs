//! `session_cap_policy`: what a new session meets when the node holds
//! `max_sessions`.

use serde::{Deserialize, Serialize};

/// What a new session meets at the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapPolicy {
    /// Refuse at once: 503 with Retry-After.
    Reject,
    /// End the longest-idle session (idle for at least `evict_min_idle_secs`),
    /// else refuse.
    EvictIdle,
    /// Wait up to `session_queue_ms` for a session to end, else refuse.
    Queue,
    /// Evict an idle session if there is one, else wait, else refuse.
    EvictIdleThenQueue,
}
