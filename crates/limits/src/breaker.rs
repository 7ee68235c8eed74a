//! A circuit breaker: after `failures` consecutive failures (or a failure
//! rate past `rate` over the last `window` calls) it opens and refuses at
//! once for `cool_down`; then it lets one probe through (half-open), and
//! closes on its success or opens again, for twice as long, on its failure.

use std::time::Duration;

use parking_lot::Mutex;

use tokio::time::Instant;

/// When a breaker trips and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Consecutive failures that open it.
    pub failures: u32,
    /// A failure share (0..1) over the last `window` outcomes that opens it.
    pub rate: f64,
    /// Outcomes the failure share is taken over (0: no rate rule).
    pub window: u32,
    /// How long it stays open the first time; doubled on each failed probe
    /// (up to 16 times as long).
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: 5,
            rate: 0.5,
            window: 20,
            cool_down: Duration::from_secs(10),
        }
    }
}

/// The breaker's state, for metrics and health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; failures are being counted.
    Closed,
    /// Tripped: calls are refused until the cool-down ends.
    Open,
    /// The cool-down is over: the next call is let through as the one
    /// probe (or the probe is running) and decides between closed and open.
    HalfOpen,
}

impl BreakerState {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
struct State {
    consecutive: u32,
    recent: std::collections::VecDeque<bool>,
    open_until: Option<Instant>,
    probing: bool,
    trips: u32,
}

/// One upstream's breaker.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

/// A call the breaker let through: report how it went.
#[derive(Debug)]
#[must_use = "report the outcome with success() or failure()"]
pub struct Attempt<'a> {
    breaker: &'a Breaker,
    probe: bool,
    reported: bool,
}

impl Attempt<'_> {
    /// The call worked.
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.record(true, self.probe);
    }

    /// The call failed in a way that counts against the upstream.
    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.record(false, self.probe);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        // Abandoned (the caller went away): a probe gives its turn back.
        if !self.reported && self.probe {
            self.breaker.state.lock().probing = false;
        }
    }
}

impl Breaker {
    /// A closed breaker that trips as `config` says.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State {
                consecutive: 0,
                recent: Default::default(),
                open_until: None,
                probing: false,
                trips: 0,
            }),
        }
    }

    /// Let a call through, or refuse it with how long until the next probe.
    pub fn attempt(&self) -> Result<Attempt<'_>, Duration> {
        let mut st = self.state.lock();
        let probe = match st.open_until {
            None => false,
            Some(until) => {
                let now = Instant::now();
                if now < until {
                    return Err(until - now);
                }
                if st.probing {
                    return Err(self.config.cool_down);
                }
                st.probing = true;
                true
            }
        };
        Ok(Attempt {
            breaker: self,
            probe,
            reported: false,
        })
    }

    /// The state now.
    pub fn state(&self) -> BreakerState {
        let st = self.state.lock();
        match st.open_until {
            None => BreakerState::Closed,
            Some(until) if Instant::now() < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    fn record(&self, ok: bool, probe: bool) {
        let mut st = self.state.lock();
        if probe {
            st.probing = false;
        }
        if ok {
            st.consecutive = 0;
            if probe || st.open_until.is_some() {
                st.open_until = None;
                st.trips = 0;
                st.recent.clear();
            }
        } else {
            st.consecutive += 1;
        }
        if self.config.window > 0 {
            st.recent.push_back(ok);
            while st.recent.len() > self.config.window as usize {
                st.recent.pop_front();
            }
        }
        let failed = st.recent.iter().filter(|ok| !**ok).count() as f64;
        let rate_tripped = self.config.window > 0
            && st.recent.len() == self.config.window as usize
            && failed / st.recent.len() as f64 >= self.config.rate;
        if !ok && (probe || st.consecutive >= self.config.failures || rate_tripped) {
            let factor = 1u32 << st.trips.min(4);
            st.trips += 1;
            st.open_until = Some(Instant::now() + self.config.cool_down * factor);
            st.consecutive = 0;
            st.recent.clear();
        }
    }
}

#[cfg(test)]
mod tests;
