//! The [`Ops`] service: what the operations routes and background work of
//! a node read — the configuration in effect, the catalog, the sessions,
//! the gate, the connections, the metrics and the node's lifecycle.

use std::sync::Arc;

use switchboard_config::{Config, Live};
use switchboard_http::Lifecycle;
use switchboard_http::conns::Conns;
use switchboard_limits::AdmissionStats;
use switchboard_observe::metrics::Metrics;
use switchboard_runtime::Catalog;
use switchboard_session::Registry;
use switchboard_session::Sessions;
use switchboard_store::{SessionStore, StoreError};
use switchboard_tenancy::Gate;
use switchboard_upstream::gateway::TenantProcesses;

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
    /// The shutdown token, the draining flag, the node's name and start.
    pub lifecycle: Lifecycle,
    /// The tenants' upstream process counts every upstream shares.
    pub tenant_processes: TenantProcesses,
    /// The token vault, if configured (users' grants for upstreams).
    pub vault: Option<Arc<switchboard_identity::Vault>>,
    /// Approved tool definitions (`pinning`), on the shared store.
    pub pins: switchboard_upstream::gateway::PinBook,
}

impl Ops {
    /// The operations side of a node, from `parts`.
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }

    pub(crate) fn parts(&self) -> &Parts {
        &self.0
    }

    /// The configuration in effect now (a reload may replace it).
    pub(crate) fn config(&self) -> Arc<Config> {
        self.0.config.load()
    }

    pub(crate) fn catalog(&self) -> &Arc<Catalog> {
        &self.0.catalog
    }

    pub(crate) fn store(&self) -> &dyn SessionStore {
        self.0.sessions.store()
    }

    pub(crate) fn registry(&self) -> &Registry {
        self.0.sessions.registry()
    }

    pub(crate) fn gate(&self) -> &Gate {
        &self.0.gate
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub(crate) fn conns(&self) -> &Conns {
        &self.0.conns
    }

    pub(crate) fn admission_stats(&self) -> AdmissionStats {
        self.0.gate.admission().stats()
    }

    pub(crate) fn drain(&self) {
        self.0.lifecycle.drain();
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.0.lifecycle.is_draining()
    }

    pub(crate) fn node_id(&self) -> &str {
        self.0.lifecycle.node_id()
    }

    pub(crate) fn started_ms(&self) -> u64 {
        self.0.lifecycle.started_ms()
    }

    /// Sessions live on this node.
    pub(crate) fn live_sessions(&self) -> usize {
        self.0.sessions.registry().len()
    }

    /// End a session everywhere (see `Sessions::end_session`).
    pub(crate) async fn end_session(&self, id: &str) -> Result<bool, StoreError> {
        self.0.sessions.end_session(id).await
    }

    /// The token vault, if configured.
    pub(crate) fn vault(&self) -> Option<&switchboard_identity::Vault> {
        self.0.vault.as_deref()
    }

    /// Approved tool definitions.
    pub(crate) fn pins(&self) -> &switchboard_upstream::gateway::PinBook {
        &self.0.pins
    }

    pub(crate) fn tenant_processes(&self) -> Option<&TenantProcesses> {
        Some(&self.0.tenant_processes)
    }
}
