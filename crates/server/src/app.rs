//! The app: builds the services, hands them down, and merges the
//! fronts' and ops' routes into the router.

use std::sync::Arc;

use axum::Router;
use switchboard_cluster::{Cluster, ClusterEvents, Owners};
use switchboard_config::{Config, Live};
use switchboard_fronts::Fronts;
use switchboard_http::Lifecycle;
use switchboard_http::conns::{Conns, descriptor_limit};
use switchboard_http::guard::HostPolicy;
use switchboard_limits::{MemoryRateLimiter, RateLimiter};
use switchboard_observe::audit::Audit;
use switchboard_observe::metrics::Metrics;
use switchboard_ops::Ops;
use switchboard_ops::reload::{ReloadError, ReloadParts, ReloadReport, Reloader};
use switchboard_ops::upstreams::UpstreamEvents;
use switchboard_runtime::Catalog;
use switchboard_session::{Parts, Sessions};
use switchboard_stateless::Sealer;
use switchboard_store::{
    EventLog, MemoryEventLog, MemorySessionStore, MemoryTaskStore, SessionBus, SessionOwners,
    SessionStore, StoreError, TaskStore,
};
use switchboard_tasks::Tasks;
use switchboard_tenancy::{Gate, Tenants};
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
struct Inner {
    /// The configuration in effect; swapped whole by a reload (`reload.rs`),
    /// read once per use.
    config: Live<Config>,
    catalog: Arc<Catalog>,
    /// Session records, event logs, live sessions and the bus.
    sessions: Sessions,
    /// Tenants and credentials (swapped whole by a reload), rates,
    /// admission and the node-local quota counts, the audit trail.
    gate: Gate,
    /// Open connections under their caps.
    conns: Conns,
    metrics: Arc<Metrics>,
    /// Durable tasks, and the ones this node runs.
    tasks: Tasks,
    /// This node's part in a cluster: the bus inbox, server events' relay
    /// and fan-out, the owners of sessions' `per_session` upstream
    /// processes.
    cluster: Cluster,
    /// The shutdown token, the draining flag (set by the admin API: new
    /// sessions are refused, existing ones served), the node's name
    /// (`[admin] node_id`) and when the app was built.
    lifecycle: Lifecycle,
    /// The health, readiness and metrics routes, the capacity gauges and
    /// the reaper's loop.
    ops: Ops,
    /// Swaps a new configuration in (upstreams' shared process counts,
    /// one reload at a time).
    reloader: Reloader,
    /// The fronts' state (`switchboard-fronts`): the services above their
    /// handlers use.
    fronts: Fronts,
}

/// The composed app: every service, built once and handed down (the
/// fronts get theirs in [`Fronts`]). Cheap to clone.
#[derive(Debug, Clone)]
pub struct App(Arc<Inner>);

/// Builds an [`App`]; stores default to the in-memory backends.
#[derive(Debug)]
pub struct AppBuilder {
    config: Config,
    catalog: Arc<Catalog>,
    store: Option<Arc<dyn SessionStore>>,
    event_log: Option<Arc<dyn EventLog>>,
    limiter: Option<Arc<dyn RateLimiter>>,
    upstreams: Option<switchboard_upstream::gateway::UpstreamsShared>,
    session_bus: Option<Arc<dyn SessionBus>>,
    cluster_events: Option<Arc<ClusterEvents>>,
    task_store: Option<Arc<dyn TaskStore>>,
    owners: Option<(Arc<dyn SessionOwners>, String)>,
    oauth: Option<Arc<switchboard_oauth::AuthorizationServer>>,
}

/// Why an [`App`] could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The `[[tenants]]` or their credentials cannot be used (the message
    /// names the tenant and what is wrong).
    #[error("invalid tenants or credentials: {0}")]
    Tenants(String),
    /// The audit log (`[auth] audit`) cannot be opened.
    #[error("cannot open the audit log {path:?}: {source}")]
    Audit {
        /// The configured path.
        path: String,
        /// Why it cannot be opened.
        source: std::io::Error,
    },
}

impl AppBuilder {
    /// Switchboard's own authorization server (`[oauth]`, built by
    /// [`crate::oauth_server`]): its endpoints are served, its tokens
    /// accepted.
    pub fn oauth(mut self, server: Arc<switchboard_oauth::AuthorizationServer>) -> Self {
        self.oauth = Some(server);
        self
    }

    /// What the catalog's providers share (tenants' upstream process
    /// counts, the token vault), so upstreams a reload adds share it too.
    pub fn upstreams(mut self, shared: switchboard_upstream::gateway::UpstreamsShared) -> Self {
        self.upstreams = Some(shared);
        self
    }

    /// The rate limiter the gate uses (default: in memory, this node's
    /// own; a cluster passes the shared one).
    pub fn rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The bus to the other nodes of a cluster (none: a single node).
    pub fn session_bus(mut self, bus: Arc<dyn SessionBus>) -> Self {
        self.session_bus = Some(bus);
        self
    }

    /// The catalog's event bus on a cluster (the one given to the
    /// catalog): with it, this node logs its own server events for every
    /// session's GET stream, wherever the stream is held (`fanout`).
    pub fn cluster_events(mut self, events: Arc<ClusterEvents>) -> Self {
        self.cluster_events = Some(events);
        self
    }

    /// The shared owner records of sessions' `per_session` upstream
    /// processes, and this node's MCP URL as the other nodes reach it:
    /// with them, such a session's calls go to the node owning its process
    /// (`owner`). Needs the `sealing_key` every node shares; ignored, with
    /// a warning, without one.
    pub fn owners(mut self, owners: Arc<dyn SessionOwners>, url: String) -> Self {
        self.owners = Some((owners, url));
        self
    }

    /// The session store (default: in memory, records bounded by
    /// `max_session_bytes`).
    pub fn store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The event log the sessions' SSE events are kept in for resumption
    /// (default: in memory, bounded by `event_log_events` and
    /// `event_log_bytes`).
    pub fn event_log(mut self, log: Arc<dyn EventLog>) -> Self {
        self.event_log = Some(log);
        self
    }

    /// The store of durable tasks (default: in memory).
    pub fn task_store(mut self, tasks: Arc<dyn TaskStore>) -> Self {
        self.task_store = Some(tasks);
        self
    }

    /// Build the app; fails on credentials that cannot be used or an
    /// audit log that cannot be opened.
    pub fn try_build(self) -> Result<App, BuildError> {
        let tenants = Tenants::new(&self.config).map_err(BuildError::Tenants)?;
        let sink = &self.config.auth.audit;
        let audit = Audit::open(sink).map_err(|source| BuildError::Audit {
            path: sink.clone(),
            source,
        })?;
        Ok(self.build_with(tenants, audit))
    }

    /// Build the app; panics where [`AppBuilder::try_build`] fails.
    pub fn build(self) -> App {
        self.try_build()
            .unwrap_or_else(|e| panic!("cannot build the app: {e}"))
    }

    fn build_with(self, tenants: Tenants, audit: Audit) -> App {
        let c = &self.config;
        let event_log = self.event_log.unwrap_or_else(|| {
            Arc::new(MemoryEventLog::new(c.event_log_events, c.event_log_bytes))
        });
        let sealer = sealer(c);
        let metrics = Arc::new(Metrics::new());
        let config = Live::new(self.config);
        let c = config.load();
        let owners = self
            .owners
            .and_then(|(store, url)| owners(store, url, &config, &self.catalog));
        let gate = Gate::new(
            config.clone(),
            tenants,
            self.catalog.clone(),
            metrics.clone(),
            audit,
            self.limiter
                .unwrap_or_else(|| Arc::new(MemoryRateLimiter::new())),
        );
        for provider in self.catalog.providers().iter() {
            provider.observe(Arc::new(UpstreamEvents::new(
                metrics.upstreams.sink(),
                gate.clone(),
            )));
        }
        if let Some(server) = &self.oauth {
            gate.set_oauth(server.clone());
        }
        let tasks = Tasks::new(
            &c.admin.node_id(),
            config.clone(),
            self.catalog.clone(),
            self.task_store
                .unwrap_or_else(|| Arc::new(MemoryTaskStore::new())),
            gate.clone(),
            metrics.clone(),
        );
        let lifecycle = Lifecycle::new(c.admin.node_id());
        let sessions = Sessions::new(Parts {
            config: config.clone(),
            catalog: self.catalog.clone(),
            store: self.store.unwrap_or_else(|| {
                Arc::new(MemorySessionStore::new().with_max_record_bytes(c.max_session_bytes))
            }),
            event_log,
            bus: self.session_bus,
            gate: gate.clone(),
            metrics: metrics.clone(),
            lifecycle: lifecycle.clone(),
        });
        let conns = Conns::new(
            config.clone(),
            metrics.connections.clone(),
            descriptor_limit(),
        );
        let upstreams = self.upstreams.unwrap_or_default();
        let ops = Ops::new(switchboard_ops::Parts {
            config: config.clone(),
            catalog: self.catalog.clone(),
            sessions: sessions.clone(),
            gate: gate.clone(),
            conns: conns.clone(),
            metrics: metrics.clone(),
            lifecycle: lifecycle.clone(),
            tenant_processes: upstreams.processes.clone(),
            vault: upstreams.vault.clone(),
            pins: upstreams.pins.clone(),
        });
        let reloader = Reloader::new(ReloadParts {
            config: config.clone(),
            catalog: self.catalog.clone(),
            gate: gate.clone(),
            sessions: sessions.clone(),
            metrics: metrics.clone(),
            upstreams: upstreams.clone(),
        });
        let cluster = Cluster::new(
            sessions.clone(),
            self.catalog.clone(),
            self.cluster_events,
            owners,
        );
        let fronts = Fronts::new(switchboard_fronts::Parts {
            config: config.clone(),
            catalog: self.catalog.clone(),
            sessions: sessions.clone(),
            hosts: HostPolicy::new(&c.allowed_hosts),
            sealer,
            gate: gate.clone(),
            metrics: metrics.clone(),
            tasks: tasks.clone(),
            cluster: cluster.clone(),
            lifecycle: lifecycle.clone(),
            vault: upstreams.vault,
            oauth: self.oauth,
        });
        App(Arc::new(Inner {
            fronts,
            conns,
            ops,
            gate,
            metrics,
            reloader,
            sessions,
            tasks,
            cluster,
            lifecycle,
            catalog: self.catalog,
            config,
        }))
    }
}

impl App {
    /// Start building an app serving `catalog` with `config`; every store
    /// not given is the in-memory one.
    pub fn builder(config: Config, catalog: Arc<Catalog>) -> AppBuilder {
        AppBuilder {
            config,
            catalog,
            store: None,
            event_log: None,
            limiter: None,
            upstreams: None,
            session_bus: None,
            cluster_events: None,
            task_store: None,
            owners: None,
            oauth: None,
        }
    }

    /// The HTTP routes: `/mcp`, the 2024-11-05 transport, the metadata
    /// document, and the health and metrics endpoints (`Ops::routes`).
    pub fn router(&self) -> Router {
        switchboard_fronts::routes(self.0.fronts.clone()).merge(self.0.ops.routes())
    }

    /// The routes of [`App::router`] for an axum app of its own to serve
    /// (no accept loop puts the client's address in the requests): the
    /// address axum records when the app is served with
    /// `into_make_service_with_connect_info::<SocketAddr>()` is taken as
    /// the client's (`switchboard_http::client::peer_from_connect_info`).
    pub fn nested_router(&self) -> Router {
        self.router().layer(axum::middleware::map_request(
            switchboard_http::client::peer_from_connect_info,
        ))
    }

    /// The configuration in effect now (a reload may replace it).
    pub fn config(&self) -> Arc<Config> {
        self.0.config.load()
    }

    /// The catalog served: the tools, resources and prompts, own and
    /// upstream.
    pub fn catalog(&self) -> &Arc<Catalog> {
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

    /// This node's part in a cluster (started with the server).
    pub(crate) fn cluster(&self) -> &Cluster {
        &self.0.cluster
    }

    /// The operations side: health routes, capacity gauges, the reaper,
    /// the admin API.
    pub(crate) fn ops(&self) -> &Ops {
        &self.0.ops
    }

    /// The gate every request passes, and the tenants, rates, admission
    /// and quota counts it keeps.
    pub(crate) fn gate(&self) -> &Gate {
        &self.0.gate
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub(crate) fn conns(&self) -> &Conns {
        &self.0.conns
    }

    /// Validate `new` and swap it in while the server runs (see
    /// `Reloader::reload`: what changes and what needs a restart).
    /// Refused as a whole, changing nothing, if anything is invalid. One
    /// reload runs at a time. Logs what it did.
    pub async fn reload(&self, new: Config) -> Result<ReloadReport, ReloadError> {
        self.0.reloader.reload(new).await
    }

    /// Cancelled when the server begins to shut down.
    pub fn shutdown_token(&self) -> &CancellationToken {
        self.0.lifecycle.shutdown()
    }

    /// One line on how callers authenticate, for the start-up banner.
    pub fn auth_summary(&self) -> String {
        let t = self.gate().tenants();
        let tenants = t.all().filter(|t| &*t.id != "anonymous").count();
        let anonymous = if t.anonymous_allowed() {
            "anonymous access on"
        } else {
            "credentials required"
        };
        format!("{tenants} tenants, {anonymous}")
    }

    /// Refuse new sessions from now on (503); existing ones keep working
    /// and `/readyz` reports the node as draining.
    pub fn drain(&self) {
        self.0.lifecycle.drain();
    }

    /// Whether [`App::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.0.lifecycle.is_draining()
    }

    /// This node's name in the admin API.
    pub fn node_id(&self) -> &str {
        self.0.lifecycle.node_id()
    }

    /// When the app was built, unix milliseconds.
    pub fn started_ms(&self) -> u64 {
        self.0.lifecycle.started_ms()
    }

    /// Sessions live on this node.
    pub fn live_sessions(&self) -> usize {
        self.0.sessions.registry().len()
    }

    /// End a session everywhere: its live streams and handlers on this node
    /// (and on the other nodes, told on the bus), its record and its event
    /// log. Returns whether the store held it.
    pub async fn end_session(&self, id: &str) -> Result<bool, StoreError> {
        self.0.sessions.end_session(id).await
    }
}

/// The sealer of `input_required` states: under the configured
/// `sealing_key`, or a random key (this node alone) without one.
fn sealer(c: &Config) -> Sealer {
    match c.sealing_key_bytes() {
        Ok(Some(key)) => Sealer::new(&key),
        Ok(None) | Err(_) => {
            tracing::warn!(
                "no sealing_key configured: using a random key; input_required retries only work on this node \
                 (set the same sealing_key on every node)"
            );
            Sealer::random()
        }
    }
}

/// The owners of sessions' `per_session` upstream processes, recorded in
/// `store`, this node reachable at `url`; none without a `sealing_key`
/// (the forwarded requests are signed under it).
fn owners(
    store: Arc<dyn SessionOwners>,
    url: String,
    config: &Live<Config>,
    catalog: &Arc<Catalog>,
) -> Option<Arc<Owners>> {
    let c = config.load();
    let Ok(Some(key)) = c.sealing_key_bytes() else {
        tracing::warn!(
            "no sealing_key configured: per_session upstream processes stay node-local \
             (set the same sealing_key on every node to forward to their owners)"
        );
        return None;
    };
    let node = format!("{}~{:08x}", c.admin.node_id(), rand_u32());
    Some(Arc::new(Owners::new(
        store,
        node,
        url,
        c.owner_lease(),
        &key,
        catalog.clone(),
        config.clone(),
    )))
}

/// A random number (a per-run suffix of the owner id, so a restarted node
/// never mistakes a lost process for its own).
fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).unwrap_or_else(|e| panic!("no randomness: {e}"));
    u32::from_ne_bytes(b)
}
