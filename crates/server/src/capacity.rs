//! The session table's capacity: a cap on sessions with a policy for a new
//! session at the cap, and a cap on sessions per client identity (the
//! remote address until authentication names a principal).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchboard_config::{CapPolicy, Config};
use switchboard_http::error::TransportError;
use switchboard_store::{Quota, now_ms};
use tokio::sync::Notify;

use crate::app::App;
use crate::tenant::Principal;

/// Node-local counts behind the per-identity caps (sessions, and the bytes
/// of their records), and the signal that a session ended (for waiters at
/// the cap).
#[derive(Debug, Default)]
pub(crate) struct Capacity {
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
    pub(crate) fn count(&self, identity: &str) -> usize {
        read(&self.per_identity, identity)
    }

    pub(crate) fn opened(&self, identity: &str) {
        add(&self.per_identity, identity, 1);
    }

    pub(crate) fn closed(&self, identity: &str) {
        sub(&self.per_identity, identity, 1);
        self.freed.notify_waiters();
    }

    /// The record bytes counted under `key` on this node.
    pub(crate) fn held_bytes(&self, key: &str) -> usize {
        read(&self.bytes, key)
    }

    /// A record counted under `key` went from `from` bytes to `to`.
    pub(crate) fn resize(&self, key: &str, from: usize, to: usize) {
        if to > from {
            add(&self.bytes, key, to - from);
        } else if from > to {
            sub(&self.bytes, key, from - to);
        }
    }
}

impl App {
    /// Make room for one more session of `who`, whose record takes
    /// `bytes`, or say why not.
    pub(crate) async fn make_room(
        &self,
        who: &Principal,
        bytes: usize,
    ) -> Result<(), TransportError> {
        let c = self.config();
        // This node's counts first (exact for one node; a lower bound of a
        // cluster's, whose store checks again in `create_within`).
        for quota in session_quotas(&c, who) {
            if self.capacity().count(&quota.group) >= quota.max {
                return Err(self.refuse_quota(who, &quota));
            }
            if quota
                .max_bytes
                .is_some_and(|max| self.capacity().held_bytes(&quota.group) + bytes > max)
            {
                return Err(self.refuse_bytes());
            }
        }
        let policy = c.session_cap_policy;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(c.session_queue_ms);
        loop {
            let waiting = self.capacity().freed.notified();
            if self.store().count().await? < c.max_sessions {
                return Ok(());
            }
            if matches!(policy, CapPolicy::EvictIdle | CapPolicy::EvictIdleThenQueue)
                && self.evict_one(who).await?
            {
                continue;
            }
            if matches!(policy, CapPolicy::Reject | CapPolicy::EvictIdle) {
                self.metrics().requests.rejected("session_cap");
                return Err(TransportError::SessionCap("session_cap"));
            }
            if tokio::time::timeout_at(deadline, waiting).await.is_err() {
                self.metrics().requests.rejected("session_cap");
                return Err(TransportError::SessionCap("session_cap"));
            }
        }
    }

    /// End the longest-idle session if it has idled long enough and belongs
    /// to `who`'s tenant: one tenant never ends another's sessions.
    async fn evict_one(&self, who: &Principal) -> Result<bool, TransportError> {
        let min_idle = self.config().evict_min_idle_secs * 1000;
        let Some(victim) = self
            .store()
            .longest_idle(now_ms().saturating_sub(min_idle))
            .await?
        else {
            return Ok(false);
        };
        let own = format!("{}/", who.tenant.id);
        let same_tenant = self
            .store()
            .load(&victim)
            .await?
            .is_some_and(|r| r.principal.is_some_and(|p| p.starts_with(&own)));
        if !same_tenant {
            return Ok(false);
        }
        tracing::info!(session = %switchboard_observe::ids::short(&victim), "evicted the longest-idle session to admit a new one");
        self.metrics().sessions.evicted();
        self.end_session(&victim).await?;
        Ok(true)
    }
}

/// The quotas a new session of `who` must fit: sessions (and the bytes of
/// their records) per client identity and, if the tenant sets one,
/// sessions per tenant. The group names are the keys of this node's
/// counts, and of the store's when it counts across nodes.
pub(crate) fn session_quotas(c: &Config, who: &Principal) -> Vec<Quota> {
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

impl App {
    /// The refusal of a session over `quota` (one of [`session_quotas`]),
    /// counted and, for a tenant's quota, audited.
    pub(crate) fn refuse_quota(&self, who: &Principal, quota: &Quota) -> TransportError {
        if quota.group != tenant_key(&who.tenant.id) {
            self.metrics().requests.rejected("per_identity_cap");
            return TransportError::SessionCap("per_identity_cap");
        }
        self.metrics().tenants.rejected(&who.tenant.id, "quota");
        self.security_event(who, None, "quota", None, "max_sessions");
        TransportError::Quota("max_sessions")
    }
}

impl App {
    /// The refusal of a session record that would pass its identity's
    /// byte budget (`max_session_bytes_per_identity`): 429, as a quota.
    pub(crate) fn refuse_bytes(&self) -> TransportError {
        self.metrics().requests.rejected("per_identity_bytes");
        TransportError::Quota("max_session_bytes_per_identity")
    }
}

/// One counted place (a listen stream of a client), given back on drop.
#[derive(Debug)]
pub(crate) struct Held {
    app: App,
    key: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.app.capacity().closed(&self.key);
    }
}

impl App {
    /// Count one more `subscriptions/listen` stream of `identity`, or 429
    /// past `max_sessions_per_identity` (a listen stream is a stateless
    /// client's lasting presence, as a session is for the session eras).
    pub(crate) fn hold_listen_stream(&self, identity: &str) -> Result<Held, TransportError> {
        let key = format!("\0listen:{identity}");
        let max = self.config().max_sessions_per_identity;
        if self.capacity().count(&key) >= max {
            self.metrics().requests.rejected("stream_cap");
            return Err(TransportError::StreamCap(max));
        }
        self.capacity().opened(&key);
        Ok(Held {
            app: self.clone(),
            key,
        })
    }
}

/// The key under which a tenant's sessions are counted (here and in a
/// store that counts across nodes).
pub(crate) fn tenant_key(tenant: &str) -> String {
    format!("tenant:{tenant}")
}

/// The key under which a client identity's sessions are counted.
pub(crate) fn identity_key(identity: &str) -> String {
    format!("identity:{identity}")
}

/// Past this share of a cap, the node warns.
const WARN_AT: f64 = 0.9;

impl App {
    /// Update the capacity gauges and warn for every cap past 90 %.
    pub(crate) async fn check_capacity(&self) {
        let c = self.config();
        let m = self.metrics();
        let sessions = match self.store().count().await {
            Ok(n) => {
                m.node.ready.set(1);
                n
            }
            Err(_) => {
                m.node.ready.set(0);
                m.node.store_failed("count");
                0
            }
        };
        let adm = self.admission_stats();
        m.sessions.open.set(sessions as i64);
        m.requests.in_flight.set(adm.in_flight as i64);
        m.requests.queue_depth.set(adm.queued as i64);
        m.sessions
            .event_log_bytes
            .set(self.event_log().bytes() as i64);
        let conns = self.conns().limits();
        let open = self.conns().open(switchboard_http::conns::Pool::Main);
        let ratios = [
            ("sessions", sessions as f64 / c.max_sessions as f64),
            ("connections", open as f64 / conns.total as f64),
            ("in_flight", adm.in_flight as f64 / adm.max_in_flight as f64),
            (
                "queue",
                if adm.max_queue == 0 {
                    0.0
                } else {
                    adm.queued as f64 / adm.max_queue as f64
                },
            ),
        ];
        for (resource, ratio) in ratios {
            m.node.set_capacity(resource, ratio);
            if ratio >= WARN_AT {
                tracing::warn!(resource, ratio, "capacity warning: past 90 % of the cap");
            }
        }
    }
}
