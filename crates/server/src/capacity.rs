//! The session table's capacity: a cap on sessions with a policy for a new
//! session at the cap, and a cap on sessions per client identity (the
//! remote address until authentication names a principal).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Deserialize;
use switchboard_store::{Quota, now_ms};
use tokio::sync::Notify;

use crate::app::App;
use crate::config::Config;
use crate::error::TransportError;
use crate::tenant::Principal;

/// What a new session meets at the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
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

/// Node-local counts behind the per-identity cap, and the signal that a
/// session ended (for waiters at the cap).
#[derive(Debug, Default)]
pub(crate) struct Capacity {
    per_identity: papaya::HashMap<String, AtomicUsize>,
    freed: Notify,
}

impl Capacity {
    pub(crate) fn count(&self, identity: &str) -> usize {
        self.per_identity
            .pin()
            .get(identity)
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }

    pub(crate) fn opened(&self, identity: &str) {
        let map = self.per_identity.pin();
        map.get_or_insert_with(identity.to_owned(), AtomicUsize::default)
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn closed(&self, identity: &str) {
        let map = self.per_identity.pin();
        if let Some(n) = map.get(identity)
            && n.fetch_sub(1, Ordering::Relaxed) <= 1
        {
            map.remove_if(identity, |_, n| n.load(Ordering::Relaxed) == 0)
                .ok();
        }
        self.freed.notify_waiters();
    }
}

impl App {
    /// Make room for one more session of `who`, or say why not.
    pub(crate) async fn make_room(&self, who: &Principal) -> Result<(), TransportError> {
        let c = self.config();
        // This node's counts first (exact for one node; a lower bound of a
        // cluster's, whose store checks again in `create_within`).
        for quota in session_quotas(&c, who) {
            if self.capacity().count(&quota.group) >= quota.max {
                return Err(self.refuse_quota(who, &quota));
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
                self.metrics().rejected("session_cap");
                return Err(TransportError::SessionCap("session_cap"));
            }
            if tokio::time::timeout_at(deadline, waiting).await.is_err() {
                self.metrics().rejected("session_cap");
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
        tracing::info!(session = %crate::peer::short(&victim), "evicted the longest-idle session to admit a new one");
        self.metrics().evicted();
        self.end_session(&victim).await?;
        Ok(true)
    }
}

/// The quotas a new session of `who` must fit: sessions per client identity
/// and, if the tenant sets one, per tenant. The group names are the keys of
/// this node's counts, and of the store's when it counts across nodes.
pub(crate) fn session_quotas(c: &Config, who: &Principal) -> Vec<Quota> {
    let mut quotas = vec![Quota {
        group: identity_key(&who.identity()),
        max: c.max_sessions_per_identity,
    }];
    if let Some(max) = who.tenant.max_sessions {
        quotas.push(Quota {
            group: tenant_key(&who.tenant.id),
            max,
        });
    }
    quotas
}

impl App {
    /// The refusal of a session over `quota` (one of [`session_quotas`]),
    /// counted and, for a tenant's quota, audited.
    pub(crate) fn refuse_quota(&self, who: &Principal, quota: &Quota) -> TransportError {
        if quota.group != tenant_key(&who.tenant.id) {
            self.metrics().rejected("per_identity_cap");
            return TransportError::SessionCap("per_identity_cap");
        }
        self.metrics().tenant_rejected(&who.tenant.id, "quota");
        self.security_event(who, None, "quota", None, "max_sessions");
        TransportError::Quota("max_sessions")
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
            self.metrics().rejected("stream_cap");
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
                m.ready.set(1);
                n
            }
            Err(_) => {
                m.ready.set(0);
                m.store_failed("count");
                0
            }
        };
        let adm = self.admission_stats();
        m.sessions_open.set(sessions as i64);
        m.in_flight.set(adm.in_flight as i64);
        m.queue_depth.set(adm.queued as i64);
        m.event_log_bytes.set(self.event_log().bytes() as i64);
        let conns = self.connection_limits();
        let open = self.conns().open(crate::conns::Pool::Main);
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
            m.set_capacity(resource, ratio);
            if ratio >= WARN_AT {
                tracing::warn!(resource, ratio, "capacity warning: past 90 % of the cap");
            }
        }
    }
}
