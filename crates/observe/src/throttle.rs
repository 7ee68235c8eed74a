//! Log lines for events that come in floods (refused connections, failed
//! accepts): at most one line per interval, saying how many events it
//! stands for. A flood costs a counter, not a line per event.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How often a flood may write a line.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// When the last line was written, and the events held back since.
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last: Option<Instant>,
    held: u64,
}

impl Throttle {
    /// At most one line per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            state: Mutex::default(),
        }
    }

    /// One more event at `now`. `Some(n)`: write a line now, for `n`
    /// events (this one and those held back since the last line). `None`:
    /// stay quiet, the event is held back.
    pub fn hit(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock();
        s.held += 1;
        if s.last
            .is_some_and(|t| now.saturating_duration_since(t) < self.every)
        {
            return None;
        }
        s.last = Some(now);
        Some(std::mem::take(&mut s.held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_writes_one_line_per_interval_with_its_count() {
        let t = Throttle::new(LOG_EVERY);
        let start = Instant::now();
        assert_eq!(t.hit(start), Some(1), "the first event is told at once");
        let quiet = (0..1000)
            .filter(|_| t.hit(start + Duration::from_secs(9)).is_some())
            .count();
        assert_eq!(quiet, 0, "no line within the interval");
        assert_eq!(
            t.hit(start + LOG_EVERY),
            Some(1001),
            "the next line counts every event held back"
        );
        assert_eq!(t.hit(start + LOG_EVERY), None);
    }
}
