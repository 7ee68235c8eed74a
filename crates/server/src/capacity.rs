//! The session table's room: making room for a new session under
//! `max_sessions` (reject, evict the longest-idle session of the same
//! tenant, or queue, as `session_cap_policy` says) after the node-local
//! quota counts of `switchboard-tenancy`, and the capacity gauges.

use std::time::Duration;

use switchboard_config::CapPolicy;
use switchboard_http::error::TransportError;
use switchboard_store::now_ms;
use switchboard_tenancy::Principal;
use switchboard_tenancy::capacity::session_quotas;

use crate::app::App;

impl App {
    /// Make room for one more session of `who`, whose record takes
    /// `bytes`, or say why not.
    pub(crate) async fn make_room(
        &self,
        who: &Principal,
        bytes: usize,
    ) -> Result<(), TransportError> {
        let c = self.config();
        let gate = self.gate();
        // This node's counts first (exact for one node; a lower bound of a
        // cluster's, whose store checks again in `create_within`).
        for quota in session_quotas(&c, who) {
            if gate.capacity().count(&quota.group) >= quota.max {
                return Err(gate.refuse_quota(who, &quota));
            }
            if quota
                .max_bytes
                .is_some_and(|max| gate.capacity().held_bytes(&quota.group) + bytes > max)
            {
                return Err(gate.refuse_bytes());
            }
        }
        let policy = c.session_cap_policy;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(c.session_queue_ms);
        loop {
            let waiting = gate.capacity().freed();
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
