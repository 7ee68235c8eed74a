//! The session reaper: ends sessions idle too long or alive too long.
//!
//! The store does the selection (`expire`), so the cost of a sweep is the
//! store's, not a walk over live state; the live part of each expired
//! session is then closed on this node.

use crate::app::App;

/// Sweep forever at an interval derived from the session limits.
pub(crate) async fn run(app: App) {
    let mut tick = tokio::time::interval(app.sessions().reap_period());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sweep(&app).await;
    }
}

/// One sweep; returns how many sessions ended.
pub(crate) async fn sweep(app: &App) -> usize {
    let Some(ended) = app.sessions().reap().await else {
        return 0;
    };
    // Rate-limit buckets back at their full burst carry no information.
    app.gate().limiter().sweep().await;
    app.check_capacity().await;
    if ended > 0 {
        tracing::debug!(count = ended, "expired sessions ended");
    }
    ended
}
