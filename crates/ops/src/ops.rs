//! The [`Ops`] service: what the operations routes and background work of
//! a node read — the configuration in effect, the catalog, the sessions,
//! the gate, the connections, the metrics and the node's lifecycle.

use std::sync::Arc;

use switchboard_config::{Config, Live};
use switchboard_http::Lifecycle;
use switchboard_http::conns::Conns;
use switchboard_observe::metrics::Metrics;
use switchboard_runtime::Catalog;
use switchboard_session::Sessions;
use switchboard_tenancy::Gate;

/// A node's operations side. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Ops(Arc<Parts>);

/// What [`Ops`] is built from.
#[derive(Debug)]
pub struct Parts {
    /// The configuration in effect (a reload swaps it).
    pub config: Live<Config>,
    /// The catalog (its upstreams' health and metrics).
    pub catalog: Arc<Catalog>,
    /// The sessions (counted, reaped).
    pub sessions: Sessions,
    /// The gate (tenants, admission, the rate limiter).
    pub gate: Gate,
    /// Open connections under their caps.
    pub conns: Conns,
    /// The node's metrics.
    pub metrics: Arc<Metrics>,
    /// The shutdown token and the draining flag.
    pub lifecycle: Lifecycle,
}

impl Ops {
    /// The operations side of a node, from `parts`.
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }

    pub(crate) fn parts(&self) -> &Parts {
        &self.0
    }
}
