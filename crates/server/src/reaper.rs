//! The session reaper: ends sessions idle too long or alive too long.
//!
//! The store does the selection (`expire`), so the cost of a sweep is the
//! store's, not a walk over live state; the live part of each expired
//! session is then closed on this node.

use std::time::Duration;

use switchboard_store::{Expiry, now_ms};

use crate::app::App;

/// Sweep forever at an interval derived from the session limits.
pub(crate) async fn run(app: App) {
    // A tenth of the shortest limit, within 1 s .. 30 s.
    let c = app.config();
    let shortest = c
        .session_idle_secs
        .min(c.session_max_lifetime_secs)
        .min(c.session_init_timeout_secs);
    let period = Duration::from_millis((shortest * 100).clamp(1000, 30_000));
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
    let init_before = now.saturating_sub(app.config().session_init_timeout_secs * 1000);
    let rule = Expiry {
        idle_before_ms: idle_before,
        created_before_ms: created_before,
        uninitialized_before_ms: init_before,
    };
    let expired = match app.store().expire(rule).await {
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
    app.metrics().sessions.expired(expired.len());
    // Rate-limit buckets back at their full burst carry no information.
    app.gate().limiter().sweep().await;
    app.check_capacity().await;
    if !expired.is_empty() {
        tracing::debug!(count = expired.len(), "expired sessions ended");
    }
    expired.len()
}
