//! The `Tasks` service: what tasks need (the configuration in effect, the
//! catalog their tools run in, the task store, the gate's tenants and
//! audit, the metrics) and this node's side of them: its name in leases and
//! how to stop the tasks it runs.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use switchboard_config::{Config, Live};
use switchboard_observe::metrics::Metrics;
use switchboard_runtime::Catalog;
use switchboard_stateless::Shape;
use switchboard_store::TaskStore;
use switchboard_tenancy::Gate;
use tokio_util::sync::CancellationToken;

/// How often clients are told to poll.
pub(crate) const POLL_INTERVAL_MS: u64 = 500;

/// Compare-and-swap attempts before giving up on a busy task.
pub(crate) const SWAP_TRIES: usize = 8;

/// Durable tasks on this node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Tasks(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: Live<Config>,
    catalog: Arc<Catalog>,
    store: Arc<dyn TaskStore>,
    gate: Gate,
    metrics: Arc<Metrics>,
    /// This node's name in leases: `node` plus a random suffix, so a
    /// restarted node is another owner.
    owner: String,
    /// The tasks running here, and how to stop each.
    running: Mutex<HashMap<String, CancellationToken>>,
}

impl Tasks {
    /// The tasks of node `node`, kept in `store`, their tools run in
    /// `catalog` under the configuration in `config`; refusals go through
    /// `gate` and are counted in `metrics`.
    pub fn new(
        node: &str,
        config: Live<Config>,
        catalog: Arc<Catalog>,
        store: Arc<dyn TaskStore>,
        gate: Gate,
        metrics: Arc<Metrics>,
    ) -> Self {
        let mut bytes = [0u8; 6];
        let _ = getrandom::fill(&mut bytes);
        let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(Arc::new(Inner {
            config,
            catalog,
            store,
            gate,
            metrics,
            owner: format!("{node}/{suffix}"),
            running: Mutex::default(),
        }))
    }

    /// The task store.
    pub fn store(&self) -> &dyn TaskStore {
        &*self.0.store
    }

    /// This node's name in the tasks' leases.
    pub fn owner(&self) -> &str {
        &self.0.owner
    }

    pub(crate) fn config(&self) -> Arc<Config> {
        self.0.config.load()
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.0.catalog
    }

    pub(crate) fn gate(&self) -> &Gate {
        &self.0.gate
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// How task results are shaped here: this catalog, the list cache
    /// time in effect, the tasks extension served.
    pub(crate) fn shape(&self) -> Shape<'_> {
        Shape::new(&self.0.catalog, self.config().list_ttl_ms, true)
    }

    pub(crate) fn running(&self) -> MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.0.running.lock()
    }

    /// Stop the task `id` if it runs here.
    pub(crate) fn stop(&self, id: &str) {
        if let Some(token) = self.running().remove(id) {
            token.cancel();
        }
    }

    /// A task's lease: the configured `task_lease_secs`, at least 300 ms.
    pub(crate) fn lease_ms(&self) -> u64 {
        self.config().task_lease_secs.saturating_mul(1000).max(300)
    }
}
