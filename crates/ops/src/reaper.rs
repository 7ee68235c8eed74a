//! The session reaper's loop: ends sessions idle too long or alive too
//! long, sweeps the rate limiter's full buckets and updates the capacity
//! gauges.
//!
//! The store does the selection (`expire`), so the cost of a sweep is the
//! store's, not a walk over live state; the live part of each expired
//! session is then closed on this node.

use crate::ops::Ops;

impl Ops {
    /// Sweep forever at an interval derived from the session limits (a
    /// background service: runs until aborted).
    pub async fn run_reaper(self) {
        let mut tick = tokio::time::interval(self.parts().sessions.reap_period());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.sweep().await;
        }
    }

    /// One sweep; returns how many sessions ended.
    async fn sweep(&self) -> usize {
        let p = self.parts();
        let Some(ended) = p.sessions.reap().await else {
            return 0;
        };
        // Rate-limit buckets back at their full burst carry no information.
        p.gate.limiter().sweep().await;
        self.check_capacity().await;
        if ended > 0 {
            tracing::debug!(count = ended, "expired sessions ended");
        }
        ended
    }
}
