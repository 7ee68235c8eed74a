//! The node: use of each cap, whether the session store answers, and the
//! store calls that failed.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::metrics::build::registered;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Resource {
    resource: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreCall {
    call: &'static str,
}

/// The store calls that are counted when they fail.
const STORE_CALLS: [&str; 4] = ["load", "touch", "create", "count"];

/// The node families.
#[derive(Debug)]
pub struct Node {
    capacity: Family<Resource, Gauge<f64, AtomicU64>>,
    store_errors: Family<StoreCall, Counter>,
    /// `ready`: 1 when the session store answers, else 0.
    pub ready: Gauge,
}

impl Node {
    pub(crate) fn register(r: &mut Registry) -> Self {
        let node = Self {
            capacity: registered(
                r,
                "capacity_ratio",
                "Use of each cap, 0..1 (warning past 0.9)",
                Family::default(),
            ),
            store_errors: registered(
                r,
                "store_errors",
                "Failed session-store calls by call (load, touch, create, count)",
                Family::default(),
            ),
            ready: registered(
                r,
                "ready",
                "1 when the session store answers (what /readyz says), else 0; set at each scrape",
                Gauge::default(),
            ),
        };
        for call in STORE_CALLS {
            let _ = node.store_errors.get_or_create(&StoreCall { call });
        }
        node
    }

    /// The use of one cap (`sessions`, `connections`, `in_flight`, `queue`),
    /// 0..1.
    pub fn set_capacity(&self, resource: &'static str, ratio: f64) {
        self.capacity
            .get_or_create(&Resource { resource })
            .set(ratio);
    }

    /// A session-store call failed.
    pub fn store_failed(&self, call: &'static str) {
        self.store_errors.get_or_create(&StoreCall { call }).inc();
    }
}
