//! The orphan sweep: every lease period, each node asks the store for a
//! bounded number of working tasks whose runner's lease ran out (its node
//! died) and claims them by compare-and-swap, running the tool again here.
//! Without it an orphan would wait for a client's `tasks/get`.

use std::time::Duration;

use switchboard_store::now_ms;

use super::{lease_ms, take_over_if_orphaned};
use crate::app::App;

/// The most tasks one sweep takes over.
const MAX_PER_SWEEP: usize = 16;

/// Sweep forever, once per lease period.
pub(crate) async fn run(app: App) {
    let mut tick = tokio::time::interval(Duration::from_millis(lease_ms(&app)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&app).await {
            tracing::warn!(error = %e, "task sweep: the store is unavailable");
        }
    }
}

/// One sweep; returns how many tasks this node took over.
pub(crate) async fn sweep(app: &App) -> Result<usize, switchboard_store::StoreError> {
    let store = app.task_store();
    let mut taken = 0;
    for id in store.orphans(now_ms(), MAX_PER_SWEEP).await? {
        let Some(v) = store.load(&id).await? else {
            continue;
        };
        let version = v.version;
        match take_over_if_orphaned(app, v).await {
            Ok(after)
                if after.version != version
                    && after.record.owner.as_deref() == Some(app.tasks().owner()) =>
            {
                taken += 1
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(task = %id, error = ?e, "task sweep: not taken over"),
        }
    }
    Ok(taken)
}
