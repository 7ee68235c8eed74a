//! Node-local quota counts: sessions per client identity and per tenant,
//! the bytes of their records, and listen streams per client; the quotas a
//! new session must fit and the keys they are counted under (here and in a
//! store that counts across nodes).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use switchboard_config::Config;
use switchboard_store::Quota;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use crate::tenant::Principal;

/// Node-local counts behind the per-identity caps (sessions, and the bytes
/// of their records), and the signal that a session ended (for waiters at
/// the cap). Cheap to clone; every clone counts in the same place.
#[derive(Debug, Clone, Default)]
pub struct Capacity(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    per_identity: papaya::HashMap<String, AtomicUsize>,
    bytes: papaya::HashMap<String, AtomicUsize>,
    freed: Notify,
}

fn read(map: &papaya::HashMap<String, AtomicUsize>, key: &str) -> usize {
    map.pin().get(key).map_or(0, |n| n.load(Ordering::Relaxed))
}

fn add(map: &papaya::HashMap<String, AtomicUsize>, key: &str, n: usize) {
    let map = map.pin();
    map.get_or_insert_with(key.to_owned(), AtomicUsize::default)
        .fetch_add(n, Ordering::Relaxed);
}

fn sub(map: &papaya::HashMap<String, AtomicUsize>, key: &str, n: usize) {
    let map = map.pin();
    if let Some(held) = map.get(key) {
        let was = held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            })
            .unwrap_or(0);
        if was <= n {
            map.remove_if(key, |_, v| v.load(Ordering::Relaxed) == 0)
                .ok();
        }
    }
}

impl Capacity {
    /// The places counted under `key` on this node.
    pub fn count(&self, key: &str) -> usize {
        read(&self.0.per_identity, key)
    }

    /// One more place counted under `key`.
    pub fn opened(&self, key: &str) {
        add(&self.0.per_identity, key, 1);
    }

    /// One place under `key` given back; wakes the waiters at the cap.
    pub fn closed(&self, key: &str) {
        sub(&self.0.per_identity, key, 1);
        self.0.freed.notify_waiters();
    }

    /// Completes at the next [`Capacity::closed`] after it was made.
    pub fn freed(&self) -> Notified<'_> {
        self.0.freed.notified()
    }

    /// The record bytes counted under `key` on this node.
    pub fn held_bytes(&self, key: &str) -> usize {
        read(&self.0.bytes, key)
    }

    /// A record counted under `key` went from `from` bytes to `to`.
    pub fn resize(&self, key: &str, from: usize, to: usize) {
        if to > from {
            add(&self.0.bytes, key, to - from);
        } else if from > to {
            sub(&self.0.bytes, key, from - to);
        }
    }

    /// Count one more place under `key`, given back when the [`Held`] is
    /// dropped.
    pub fn hold(&self, key: String) -> Held {
        self.opened(&key);
        Held {
            counts: self.clone(),
            key,
        }
    }
}

/// One counted place (a listen stream of a client), given back on drop.
#[derive(Debug)]
pub struct Held {
    counts: Capacity,
    key: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.counts.closed(&self.key);
    }
}

/// The quotas a new session of `who` must fit: sessions (and the bytes of
/// their records) per client identity and, if the tenant sets one,
/// sessions per tenant. The group names are the keys of this node's
/// counts, and of the store's when it counts across nodes.
pub fn session_quotas(c: &Config, who: &Principal) -> Vec<Quota> {
    let mut quotas = vec![Quota {
        group: identity_key(&who.identity()),
        max: c.max_sessions_per_identity,
        max_bytes: Some(c.max_session_bytes_per_identity),
    }];
    if let Some(max) = who.tenant.max_sessions {
        quotas.push(Quota {
            group: tenant_key(&who.tenant.id),
            max,
            max_bytes: None,
        });
    }
    quotas
}

/// The key under which a tenant's sessions are counted (here and in a
/// store that counts across nodes).
pub fn tenant_key(tenant: &str) -> String {
    format!("tenant:{tenant}")
}

/// The key under which a client identity's sessions are counted.
pub fn identity_key(identity: &str) -> String {
    format!("identity:{identity}")
}

/// The key under which a client identity's listen streams are counted.
pub fn listen_key(identity: &str) -> String {
    format!("\0listen:{identity}")
}
