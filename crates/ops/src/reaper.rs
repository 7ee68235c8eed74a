//! The session reaper's loop: ends sessions idle too long or alive too
//! long, sweeps the rate limiter's full buckets and updates the capacity
//! gauges.
//!
//! The store does the selection (`expire`), so the cost of a sweep is the
//! store's, not a walk over live state; the live part of each expired
//! session is then closed on this node.

use tokio_util::sync::CancellationToken;

use crate::ops::Ops;

impl Ops {
    /// Sweep at an interval derived from the session limits until
    /// `shutdown` is cancelled (a background service; a sweep under way
    /// when it is cancelled is dropped at its next wait).
    pub async fn run_reaper(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.parts().sessions.reap_period());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let sweeps = async {
            loop {
                tick.tick().await;
                self.sweep().await;
            }
        };
        shutdown.run_until_cancelled(sweeps).await;
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
