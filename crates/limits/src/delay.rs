//! How late the runtime runs a task that is ready: the scheduling delay.
//!
//! Under a flood of connections the queueing happens in the runtime, in
//! front of any handler: every connection with a request waits its turn to
//! have it read and answered, and no in-flight count sees it. A probe task
//! that sleeps a short period and notes how much later than asked it woke
//! measures that wait directly (the technique of Node's event-loop-delay
//! load shedding): a timer-woken task queues behind the same ready tasks a
//! request does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the probe wakes while shedding is on.
const PERIOD: Duration = Duration::from_millis(1);
/// How often it looks at whether shedding was turned on while it is off.
const IDLE: Duration = Duration::from_secs(1);

/// The latest scheduling delay measured, in microseconds. Cheap to clone;
/// the probe task stops when the last clone is dropped.
#[derive(Debug, Clone, Default)]
pub struct Delay(Arc<AtomicU64>);

impl Delay {
    /// A probe on the current runtime, measuring while `on()` says so (it
    /// is read once a period, so a reload can turn it on or off). Without
    /// a runtime, a probe that always reads zero.
    pub fn start(on: impl Fn() -> bool + Send + 'static) -> Self {
        let delay = Self::default();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(probe(Arc::downgrade(&delay.0), on));
        }
        delay
    }

    /// The delay of the probe's last wake-up (zero while it is off).
    pub fn current(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::Relaxed))
    }
}

async fn probe(cell: std::sync::Weak<AtomicU64>, on: impl Fn() -> bool) {
    loop {
        let period = if on() { PERIOD } else { IDLE };
        let asked = Instant::now() + period;
        tokio::time::sleep_until(asked.into()).await;
        let late = Instant::now().saturating_duration_since(asked);
        let Some(cell) = cell.upgrade() else { return };
        let us = if period == PERIOD {
            u64::try_from(late.as_micros()).unwrap_or(u64::MAX)
        } else {
            0
        };
        cell.store(us, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime thread kept busy past the probe's wake-up is seen as a
    /// delay at least that long; turned off, the probe reads zero.
    #[tokio::test(flavor = "current_thread")]
    async fn a_busy_runtime_is_seen_late() {
        let d = Delay::start(|| true);
        tokio::time::sleep(Duration::from_millis(5)).await;
        // Hold the only runtime thread for 50 ms: the probe cannot run.
        std::thread::sleep(Duration::from_millis(50));
        let mut seen = Duration::ZERO;
        for _ in 0..100 {
            tokio::task::yield_now().await;
            seen = seen.max(d.current());
        }
        assert!(seen >= Duration::from_millis(40), "{seen:?}");
        let off = Delay::start(|| false);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(off.current(), Duration::ZERO);
    }
}
