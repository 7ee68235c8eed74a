//! Restart backoff for an upstream whose processes keep failing: each start
//! that fails, and each process that dies soon after it started, doubles the
//! delay before the next start (from [`Backoff::BASE`] up to
//! [`Backoff::CAP`]); a process started after the last failure that stays
//! up [`Backoff::STABLE`] resets it (older processes say nothing about
//! whether new ones can start).
//! Time is [`tokio::time::Instant`], so tests run it on paused time.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// The crash-loop state of one upstream.
#[derive(Debug)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    stable: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Failures in a row (failed starts and early deaths).
    failures: u32,
    /// No start before this.
    not_before: Option<Instant>,
    /// When the last failure was.
    last: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Self::BASE, Self::CAP, Self::STABLE)
    }
}

impl Backoff {
    /// The first delay.
    pub(crate) const BASE: Duration = Duration::from_millis(100);
    /// The longest delay.
    pub(crate) const CAP: Duration = Duration::from_secs(30);
    /// A process up this long was no crash loop.
    pub(crate) const STABLE: Duration = Duration::from_secs(10);

    pub(crate) fn new(base: Duration, cap: Duration, stable: Duration) -> Self {
        Self {
            base,
            cap,
            stable,
            state: Mutex::default(),
        }
    }

    /// How long the next start must wait (zero: start now).
    pub(crate) fn delay(&self) -> Duration {
        self.state.lock().not_before.map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        })
    }

    /// Failures in a row so far.
    pub(crate) fn failures(&self) -> u32 {
        self.state.lock().failures
    }

    /// A start failed: the next one waits twice as long as the last
    /// (`base` after the first failure, at most `cap`). Returns the delay.
    pub(crate) fn failed(&self) -> Duration {
        let mut st = self.state.lock();
        st.failures = st.failures.saturating_add(1);
        let doublings = st.failures.saturating_sub(1).min(31);
        let delay = self
            .base
            .checked_mul(1u32 << doublings)
            .map_or(self.cap, |d| d.min(self.cap));
        let now = Instant::now();
        st.not_before = Some(now + delay);
        st.last = Some(now);
        delay
    }

    /// A process that started at `started` died: a failure if it died
    /// before `stable`, else (if it started after the last failure) the
    /// loop is over.
    pub(crate) fn died(&self, started: Instant) {
        if started.elapsed() < self.stable {
            self.failed();
        } else {
            self.reset_by(started);
        }
    }

    /// A process that started at `started` is still alive: once it has
    /// been up `stable`, and if it started after the last failure, forget
    /// past failures.
    pub(crate) fn alive(&self, started: Instant) {
        if started.elapsed() >= self.stable {
            self.reset_by(started);
        }
    }

    fn reset_by(&self, started: Instant) {
        let mut st = self.state.lock();
        if st.last.is_some_and(|last| started >= last) {
            *st = State::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn delays_double_from_100_ms_up_to_30_s() {
        let b = Backoff::default();
        assert_eq!(b.delay(), Duration::ZERO, "no failure, no wait");
        let schedule: Vec<Duration> = (0..12).map(|_| b.failed()).collect();
        let expected: Vec<Duration> = [
            100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000,
        ]
        .into_iter()
        .map(ms)
        .collect();
        assert_eq!(schedule, expected);
        assert_eq!(b.delay(), Duration::from_secs(30));
        assert_eq!(b.failures(), 12);
    }

    #[tokio::test(start_paused = true)]
    async fn the_delay_runs_down_with_time() {
        let b = Backoff::default();
        b.failed();
        b.failed();
        assert_eq!(b.delay(), ms(200));
        tokio::time::advance(ms(150)).await;
        assert_eq!(b.delay(), ms(50));
        tokio::time::advance(ms(50)).await;
        assert_eq!(b.delay(), Duration::ZERO);
        // The count stays until a process proves stable: the next failure
        // doubles on.
        assert_eq!(b.failed(), ms(400));
    }

    #[tokio::test(start_paused = true)]
    async fn an_early_death_is_a_failure_and_a_stable_process_resets() {
        let b = Backoff::default();
        let started = Instant::now();
        tokio::time::advance(ms(500)).await;
        b.died(started);
        b.died(Instant::now());
        assert_eq!(b.failures(), 2);
        assert_eq!(b.delay(), ms(200));

        let started = Instant::now();
        tokio::time::advance(Backoff::STABLE - ms(1)).await;
        b.alive(started);
        assert_eq!(b.failures(), 2, "not up long enough yet");
        tokio::time::advance(ms(1)).await;
        b.alive(started);
        assert_eq!(b.failures(), 0);
        assert_eq!(b.delay(), Duration::ZERO);

        // A long-lived process dying is no crash loop either.
        b.failed();
        let started = Instant::now();
        tokio::time::advance(Backoff::STABLE).await;
        b.died(started);
        assert_eq!((b.failures(), b.delay()), (0, Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn a_process_older_than_the_failures_does_not_end_the_loop() {
        let b = Backoff::default();
        let old = Instant::now();
        tokio::time::advance(Backoff::STABLE).await;
        b.failed();
        b.alive(old);
        b.died(old);
        assert_eq!(b.failures(), 1, "new starts still fail");
        assert_eq!(b.delay(), ms(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_count_stays_at_the_cap() {
        let b = Backoff::new(ms(100), Duration::from_secs(30), Backoff::STABLE);
        for _ in 0..100 {
            b.failed();
        }
        assert_eq!(b.failed(), Duration::from_secs(30));
    }
}
