//! Tokens held per caller until shortly before they expire; one exchange
//! at a time per caller.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::Credential;
use crate::endpoint::Issued;

/// Most callers whose tokens are held; past it, expired ones are dropped,
/// and if none are, everything is (the next calls exchange again).
const MAX_HELD: usize = 10_000;

/// A token is given up this long before it expires, or a quarter of its
/// lifetime if that is shorter.
const MARGIN: Duration = Duration::from_secs(30);

/// One caller's token.
#[derive(Debug)]
pub(crate) struct Held {
    credential: Credential,
    until: Instant,
}

impl Held {
    /// Hold `issued` until shortly before it expires, and never past
    /// `subject_expires_at` (the caller's own token's `exp`).
    pub(crate) fn new(issued: Issued, subject_expires_at: Option<u64>) -> Self {
        let now = Instant::now();
        let lifetime = issued.expires_in.unwrap_or(Duration::from_secs(300));
        let mut until = now + lifetime - MARGIN.min(lifetime / 4);
        if let Some(exp) = subject_expires_at {
            let left = exp.saturating_sub(unix_now());
            until = until.min(now + Duration::from_secs(left));
        }
        Self {
            credential: Credential {
                token: issued.token,
                dpop: issued.dpop,
            },
            until,
        }
    }

    /// The token (and the key it is bound to), if still fresh.
    pub(crate) fn fresh(&self) -> Option<Credential> {
        (Instant::now() < self.until).then(|| self.credential.clone())
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Held>>>;

/// Tokens by caller.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    held: Mutex<HashMap<String, Slot>>,
}

impl Cache {
    /// `key`'s slot: lock it, use its token if fresh, else get one and
    /// put it there (other calls of the same caller wait meanwhile).
    pub(crate) fn slot(&self, key: &str) -> Slot {
        let mut held = self.held.lock();
        if let Some(slot) = held.get(key) {
            return slot.clone();
        }
        if held.len() >= MAX_HELD {
            held.retain(|_, slot| {
                slot.try_lock()
                    .map_or(true, |h| h.as_ref().is_some_and(|h| h.fresh().is_some()))
            });
            if held.len() >= MAX_HELD {
                held.clear();
            }
        }
        held.entry(key.to_owned()).or_default().clone()
    }
}

impl Cache {
    /// Drop what is held under `key` (its grant was revoked).
    pub(crate) fn forget(&self, key: &str) {
        self.held.lock().remove(key);
    }
}

/// A token's digest (lowercase hex SHA-256, as API keys' are), to key the
/// cache without holding the token twice.
pub(crate) fn digest(token: &str) -> String {
    switchboard_auth::digest_hex(token)
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
