//! The orphan sweep: every lease period, each node asks the store for a
//! bounded number of working tasks whose runner's lease ran out (its node
//! died) and claims them by compare-and-swap, running the tool again here.
//! Without it an orphan would wait for a client's `tasks/get`.

use std::time::Duration;

use switchboard_store::now_ms;
use tokio_util::sync::CancellationToken;

use crate::records::take_over_if_orphaned;
use crate::service::Tasks;

/// The most tasks one sweep takes over.
const MAX_PER_SWEEP: usize = 16;

impl Tasks {
    /// Sweep once per lease period until `shutdown` is cancelled (a
    /// background service; a sweep under way when it is cancelled is
    /// dropped at its next wait).
    pub async fn run_sweep(self, shutdown: CancellationToken) {
        let tasks = self;
        let mut tick = tokio::time::interval(Duration::from_millis(tasks.lease_ms()));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let sweeps = async {
            loop {
                tick.tick().await;
                if let Err(e) = tasks.sweep().await {
                    tracing::warn!(error = %e, "task sweep: the store is unavailable");
                }
            }
        };
        shutdown.run_until_cancelled(sweeps).await;
    }
}

impl Tasks {
    /// One sweep; returns how many tasks this node took over.
    pub async fn sweep(&self) -> Result<usize, switchboard_store::StoreError> {
        let tasks = self;
        let store = tasks.store();
        let mut taken = 0;
        for id in store.orphans(now_ms(), MAX_PER_SWEEP).await? {
            let Some(v) = store.load(&id).await? else {
                continue;
            };
            let version = v.version;
            match take_over_if_orphaned(tasks, v).await {
                Ok(after)
                    if after.version != version
                        && after.record.owner.as_deref() == Some(tasks.owner()) =>
                {
                    taken += 1
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(task = %id, error = ?e, "task sweep: not taken over"),
            }
        }
        Ok(taken)
    }
}
