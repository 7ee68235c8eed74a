//! The HTTP fronts' shared state: the services their handlers use. Cheap
//! to clone (one `Arc`). A handler that uses only one or two services
//! takes those (`State<Gate>`, `State<Sessions>`, `State<Arc<Catalog>>`:
//! the `FromRef` impls at the end), so what it reaches is in its
//! signature.

use std::sync::Arc;

use axum::extract::FromRef;
use switchboard_cluster::{Cluster, Owners};
use switchboard_config::{Config, Live};
use switchboard_http::Lifecycle;
use switchboard_http::guard::HostPolicy;
use switchboard_observe::metrics::Metrics;
use switchboard_runtime::Catalog;
use switchboard_session::Sessions;
use switchboard_stateless::{Sealer, Shape};
use switchboard_tasks::Tasks;
use switchboard_tenancy::Gate;
use tokio_util::sync::CancellationToken;

/// The services the fronts are built over.
#[derive(Debug)]
pub struct Parts {
    /// The configuration in effect; swapped whole by a reload, read once
    /// per use.
    pub config: Live<Config>,
    /// The tools, resources and prompts served (their providers change
    /// with a reload).
    pub catalog: Arc<Catalog>,
    /// Session records, event logs, live sessions and the bus.
    pub sessions: Sessions,
    /// Who may be named in `Host` and `Origin` (the layer in front of
    /// every route that checks them).
    pub hosts: HostPolicy,
    /// Seals and opens the stateless era's `requestState`.
    pub sealer: Sealer,
    /// Tenants and credentials, rates, admission and quota counts, the
    /// audit trail.
    pub gate: Gate,
    /// The node's Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Durable tasks, and the ones this node runs.
    pub tasks: Tasks,
    /// This node's part in a cluster (the owners of sessions'
    /// `per_session` upstream processes).
    pub cluster: Cluster,
    /// The shutdown token.
    pub lifecycle: Lifecycle,
    /// The token vault, if configured (users' grants for upstreams; the
    /// connect pages).
    pub vault: Option<Arc<switchboard_identity::Vault>>,
    /// Switchboard's own authorization server (`[oauth]`), if on.
    pub oauth: Option<Arc<switchboard_oauth::AuthorizationServer>>,
}

/// Everything a front's request handler reaches. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fronts(Arc<Parts>);

impl Fronts {
    /// The fronts' state over `parts`.
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }

    /// The configuration in effect now (a reload may replace it).
    pub(crate) fn config(&self) -> Arc<Config> {
        self.0.config.load()
    }

    pub(crate) fn catalog(&self) -> &Arc<Catalog> {
        &self.0.catalog
    }

    /// Session records, event logs, live sessions and the bus; opening,
    /// creating and ending sessions.
    pub(crate) fn sessions(&self) -> &Sessions {
        &self.0.sessions
    }

    /// Durable tasks, and the ones this node runs.
    pub(crate) fn tasks(&self) -> &Tasks {
        &self.0.tasks
    }

    /// The owners of sessions' `per_session` upstream processes (a
    /// cluster with a shared store and a `sealing_key`).
    pub(crate) fn owners(&self) -> Option<&Owners> {
        self.0.cluster.owners()
    }

    /// This node's part in a cluster.
    pub(crate) fn cluster(&self) -> &Cluster {
        &self.0.cluster
    }

    /// The gate every request passes, and the tenants, rates, admission
    /// and quota counts it keeps.
    pub(crate) fn gate(&self) -> &Gate {
        &self.0.gate
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub(crate) fn sealer(&self) -> &Sealer {
        &self.0.sealer
    }

    /// How stateless results are shaped here: this catalog, the list
    /// cache time in effect, the tasks extension served.
    pub(crate) fn shape(&self) -> Shape<'_> {
        Shape::new(self.catalog(), self.config().list_ttl_ms, true)
    }

    /// As [`Fronts::shape`], for `who`'s endpoint (a virtual server says
    /// who it is itself).
    pub(crate) fn shape_for<'a>(&'a self, who: &'a switchboard_tenancy::Principal) -> Shape<'a> {
        self.shape().as_server(who.server.as_ref().map(|s| &s.info))
    }

    pub(crate) fn oauth(&self) -> Option<&Arc<switchboard_oauth::AuthorizationServer>> {
        self.0.oauth.as_ref()
    }

    pub(crate) fn hosts(&self) -> &HostPolicy {
        &self.0.hosts
    }

    /// Cancelled when the server begins to shut down.
    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        self.0.lifecycle.shutdown()
    }
}

impl FromRef<Fronts> for Gate {
    fn from_ref(fronts: &Fronts) -> Self {
        fronts.gate().clone()
    }
}

impl FromRef<Fronts> for Sessions {
    fn from_ref(fronts: &Fronts) -> Self {
        fronts.sessions().clone()
    }
}

impl FromRef<Fronts> for Arc<Catalog> {
    fn from_ref(fronts: &Fronts) -> Self {
        fronts.catalog().clone()
    }
}

impl FromRef<Fronts> for crate::connect::Connect {
    fn from_ref(f: &Fronts) -> Self {
        Self {
            vault: f.0.vault.clone(),
            config: f.0.config.clone(),
            gate: f.0.gate.clone(),
            catalog: f.0.catalog.clone(),
        }
    }
}
