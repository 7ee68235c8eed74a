//! Sessions and their streams: how many are held, how old they were when
//! they ended, why they ended, and the SSE streams and event log they keep.

use std::sync::atomic::AtomicI64;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::metrics::build::registered;

/// The session families.
#[derive(Debug)]
pub struct Sessions {
    /// `sessions_open`: sessions held (set at each scrape from the store).
    pub open: Gauge,
    age: Histogram,
    /// `open_streams`: open SSE response streams (see [`StreamGauge`]).
    pub streams: Gauge,
    /// `event_log_bytes`: bytes of SSE events kept for resumption.
    pub event_log_bytes: Gauge,
    evictions: Counter,
    expiries: Counter,
}

impl Sessions {
    pub(crate) fn register(r: &mut Registry) -> Self {
        Self {
            open: registered(
                r,
                "sessions_open",
                "Sessions held (all eras with sessions)",
                Gauge::default(),
            ),
            age: registered(
                r,
                "session_age_seconds",
                "Age of sessions when they end",
                Histogram::new(exponential_buckets(1.0, 2.0, 16)),
            ),
            streams: registered(
                r,
                "open_streams",
                "Open SSE response streams",
                Gauge::default(),
            ),
            event_log_bytes: registered(
                r,
                "event_log_bytes",
                "Bytes of SSE events kept for resumption",
                Gauge::default(),
            ),
            evictions: registered(
                r,
                "session_evictions",
                "Sessions evicted to admit new ones",
                Counter::default(),
            ),
            expiries: registered(
                r,
                "session_expiries",
                "Sessions ended by the reaper",
                Counter::default(),
            ),
        }
    }

    /// A session of this age ended.
    pub fn ended(&self, age: Duration) {
        self.age.observe(age.as_secs_f64());
    }

    /// The reaper ended `n` sessions.
    pub fn expired(&self, n: usize) {
        self.expiries.inc_by(n as u64);
    }

    /// A session was evicted to admit a new one.
    pub fn evicted(&self) {
        self.evictions.inc();
    }
}

/// Counts open streams on a gauge: +1 when made, -1 when dropped.
#[derive(Debug)]
pub struct StreamGauge(Gauge<i64, AtomicI64>);

impl StreamGauge {
    /// Count one more stream on `g` until this is dropped.
    pub fn new(g: &Gauge<i64, AtomicI64>) -> Self {
        g.inc();
        Self(g.clone())
    }
}

impl Drop for StreamGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}
