//! Shared pieces of the metric groups: the latency buckets, and registering
//! a family while keeping a handle to it.

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

/// A latency histogram: 50 µs .. ~26 s.
pub(crate) fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

/// Register `metric` under `name` (after the registry's `switchboard_`
/// prefix) and return it: a family and its clones share their series.
pub(crate) fn registered<M: Metric + Clone>(
    r: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    r.register(name, help, metric.clone());
    metric
}
