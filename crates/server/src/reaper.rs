//! The session reaper: ends sessions idle too long or alive too long.
//!
//! The store does the selection (`expire`), so the cost of a sweep is the
//! store's, not a walk over live state; the live part of each expired
//! session is then closed on this node.

use std::time::Duration;

use switchboard_store::now_ms;

use crate::app::App;

/// Sweep forever at an interval derived from the idle timeout.
pub(crate) async fn run(app: App) {
    let idle_ms = app.config().session_idle_secs * 1000;
    let period = Duration::from_millis((idle_ms / 10).clamp(1000, 30_000));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sweep(&app).await;
    }
}

/// One sweep; returns how many sessions ended.
pub(crate) async fn sweep(app: &App) -> usize {
    let now = now_ms();
    let idle_before = now.saturating_sub(app.config().session_idle_secs * 1000);
    let created_before = now.saturating_sub(app.config().session_max_lifetime_secs * 1000);
    let expired = match app.store().expire(idle_before, created_before).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "session sweep failed");
            return 0;
        }
    };
    for id in &expired {
        if let Err(e) = app.end_session(id).await {
            tracing::warn!(error = %e, "ending an expired session failed");
        }
    }
    if !expired.is_empty() {
        tracing::debug!(count = expired.len(), "expired sessions ended");
    }
    expired.len()
}
