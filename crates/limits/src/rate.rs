//! Rate limiting by the generic cell rate algorithm (GCRA); the formulas are
//! on [`RateLimiter`].

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use parking_lot::Mutex;

use tokio::time::Instant;

const NANOS_PER_SEC: f64 = 1e9;
const NANOS_PER_MS: u128 = 1_000_000;
const SHARDS: usize = 16;

/// A rate: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens earned back per second; positive and finite (see
    /// [`Rate::new`]). A hand-built rate that is not positive earns nothing
    /// back after its burst.
    pub per_second: f64,
    /// Calls allowed at once from a fresh key; at least 1 (0 is taken as 1).
    pub burst: u32,
}

impl Rate {
    /// A rate, or `None` unless `per_second` is positive and finite and
    /// `burst` is at least 1.
    pub fn new(per_second: f64, burst: u32) -> Option<Rate> {
        (per_second.is_finite() && per_second > 0.0 && burst >= 1)
            .then_some(Rate { per_second, burst })
    }

    /// The time it takes to earn back one token: `1 / per_second`, in whole
    /// nanoseconds (at least 1).
    pub fn emission_interval(&self) -> Duration {
        Duration::from_nanos(self.interval_nanos())
    }

    fn interval_nanos(&self) -> u64 {
        if self.per_second > 0.0 {
            // `as` saturates: a vanishing rate gives u64::MAX.
            ((NANOS_PER_SEC / self.per_second).round() as u64).max(1)
        } else {
            u64::MAX
        }
    }
}

/// The answer of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The call may go ahead; `remaining` more could go at once after it.
    Allowed {
        /// Calls still allowed right now.
        remaining: u32,
    },
    /// The call is over the rate.
    Limited {
        /// When the next call would be allowed (at least 1 ms).
        retry_after: Duration,
    },
}

/// Why a limiter could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LimiterError {
    /// The limiter's state could not be reached.
    #[error("rate limiter unavailable: {0}")]
    Unavailable(String),
}

/// A limiter keyed by string, by the generic cell rate algorithm (GCRA).
///
/// Each key keeps one number, its theoretical arrival time (TAT), and every
/// check works in whole nanoseconds so that no float drift creeps in. With
///
/// - `T = round(1e9 / per_second)` nanoseconds, at least 1 (the emission
///   interval, [`Rate::emission_interval`]: one token is earned back every
///   `T`),
/// - `limit = T * burst`,
/// - `now` the limiter's current time and `stored` the key's TAT (`now` for
///   a key not stored),
///
/// one check computes
///
/// ```text
/// tat     = max(stored, now)
/// new_tat = tat + T
/// allowed iff new_tat - now <= limit
///   allowed: store new_tat; remaining   = floor((limit - (new_tat - now)) / T)
///   limited: store nothing; retry_after = (new_tat - now) - limit, rounded up to whole ms
/// ```
///
/// in exact unsigned integers. A fresh key is therefore allowed exactly
/// `burst` calls at once (the last with `remaining` 0), then one per `T`;
/// the first refused call is told to retry after `T` (in whole milliseconds,
/// rounded up). A stored TAT at or before `now` behaves exactly like a fresh
/// key, which is what [`sweep`](RateLimiter::sweep) relies on to drop it.
/// Every implementation (a shared one with its own clock later) must compute
/// these same formulas, so it gives the same answers for the same sequence
/// of checks at the same times.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Take one token for `key` under `rate`.
    async fn check(&self, key: &str, rate: Rate) -> Result<Decision, LimiterError>;

    /// Forget keys whose state equals a fresh key's (their TAT is not after
    /// now); returns how many were dropped. Called periodically.
    async fn sweep(&self) -> usize;
}

/// One GCRA step at `now` for a key whose TAT is `stored`: the new TAT to
/// store and the decision.
///
/// In `u128` nothing can overflow: `T < 2^64`, `burst < 2^32` and a stored
/// TAT is at most `now + limit`.
fn step(stored: Option<u128>, now: u128, rate: Rate) -> (Option<u128>, Decision) {
    let t = u128::from(rate.interval_nanos());
    let burst = u128::from(rate.burst.max(1));
    let limit = t * burst;
    let tat = stored.unwrap_or(now).max(now);
    let new_tat = tat + t;
    let ahead = new_tat - now;
    if ahead <= limit {
        // At most burst - 1, so it fits.
        let remaining = u32::try_from((limit - ahead) / t).unwrap_or(u32::MAX);
        (Some(new_tat), Decision::Allowed { remaining })
    } else {
        let ms = (ahead - limit).div_ceil(NANOS_PER_MS);
        let retry_after = Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX));
        (None, Decision::Limited { retry_after })
    }
}

/// A [`RateLimiter`] whose state lives in this process: a TAT per key in
/// nanoseconds since the limiter was made, in mutex-guarded shards. Time
/// comes from [`tokio::time::Instant`], so tests can pause it.
pub struct MemoryRateLimiter {
    base: Instant,
    hasher: RandomState,
    shards: Box<[Mutex<HashMap<String, u128>>]>,
}

impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("keys", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRateLimiter {
    /// An empty limiter; its clock starts now.
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// How many keys it holds state for.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// Whether it holds state for no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn now(&self) -> u128 {
        Instant::now()
            .saturating_duration_since(self.base)
            .as_nanos()
    }

    fn shard(&self, key: &str) -> &Mutex<HashMap<String, u128>> {
        let i = self.hasher.hash_one(key) as usize % self.shards.len();
        &self.shards[i]
    }

    fn check_now(&self, key: &str, rate: Rate) -> Decision {
        let mut shard = self.shard(key).lock();
        let now = self.now();
        let stored = shard.get(key).copied();
        let (store, decision) = step(stored, now, rate);
        if let Some(tat) = store {
            match shard.get_mut(key) {
                Some(slot) => *slot = tat,
                None => {
                    shard.insert(key.to_owned(), tat);
                }
            }
        }
        decision
    }

    fn sweep_now(&self) -> usize {
        let mut dropped = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            let now = self.now();
            let before = shard.len();
            shard.retain(|_, tat| *tat > now);
            dropped += before - shard.len();
        }
        dropped
    }
}

#[async_trait::async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, rate: Rate) -> Result<Decision, LimiterError> {
        Ok(self.check_now(key, rate))
    }

    async fn sweep(&self) -> usize {
        self.sweep_now()
    }
}

#[cfg(test)]
mod tests;
