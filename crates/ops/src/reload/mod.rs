//! Hot reload: a new configuration is validated in full, then what may
//! change while the server runs is swapped in — the configuration and the
//! tenants (credentials, limits, quotas, policies) as one atomic store
//! each, upstreams removed from and added to the catalog. Anything invalid
//! (a bad key, unusable credentials, a tool name collision of a new
//! upstream) refuses the whole reload and the running configuration stays.
//!
//! What a reload means for sessions: a session is bound to its principal
//! (tenant, and the API key's id or the JWT's issuer and subject), not to
//! the key's secret, so after a key rotation that keeps the key's `id` the
//! session goes on with the new key; the old key is refused (401). A
//! session of a removed tenant is ended. Limits are read per request, so a
//! tightened rate or quota applies to the next request; work already
//! admitted finishes. A removed upstream's processes end at once (calls
//! running on them fail) and its tools become unknown; other upstreams'
//! sessions and processes are untouched. Fields only read at start-up
//! (`listen`, `store`, …) keep their running value and are reported as
//! needing a restart.

mod plan;
mod report;

use std::sync::Arc;

use switchboard_config::{Config, Live};
use switchboard_observe::metrics::Metrics;
use switchboard_runtime::{Catalog, Provider};
use switchboard_session::Sessions;
use switchboard_tenancy::{Gate, Tenants};
use switchboard_upstream::gateway::{TenantProcesses, UpstreamsShared};

use plan::{
    BUILTIN, builtin_changed, changed_keys, diff_tenants, diff_upstreams, keep_restart_only,
    start_checked, swap,
};
pub use report::ReloadReport;

/// Swaps a new configuration in while the server runs, one reload at a
/// time. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Reloader(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: Live<Config>,
    catalog: Arc<Catalog>,
    gate: Gate,
    sessions: Sessions,
    metrics: Arc<Metrics>,
    /// Upstreams' shared process counts.
    upstreams: UpstreamsShared,
    /// One reload at a time.
    lock: tokio::sync::Mutex<()>,
}

/// What a [`Reloader`] is built from.
#[derive(Debug)]
pub struct ReloadParts {
    /// The configuration in effect, which a reload swaps.
    pub config: Live<Config>,
    /// The catalog whose upstreams a reload adds and removes.
    pub catalog: Arc<Catalog>,
    /// The gate, whose tenants a reload swaps.
    pub gate: Gate,
    /// The sessions (those of a removed tenant end).
    pub sessions: Sessions,
    /// Where upstreams are counted.
    pub metrics: Arc<Metrics>,
    /// What every upstream shares (tenants' process counts, the vault).
    pub upstreams: UpstreamsShared,
}

impl Reloader {
    /// A reloader over `parts`.
    pub fn new(parts: ReloadParts) -> Self {
        Self(Arc::new(Inner {
            config: parts.config,
            catalog: parts.catalog,
            gate: parts.gate,
            sessions: parts.sessions,
            metrics: parts.metrics,
            upstreams: parts.upstreams,
            lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// The tenants' upstream process counts the upstreams share.
    pub fn tenant_processes(&self) -> &TenantProcesses {
        &self.0.upstreams.processes
    }
}

/// Why a reload was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// A key's value is invalid.
    #[error("invalid configuration: `{key}`: {message}")]
    Invalid {
        /// The key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// The tenants or credentials cannot be used.
    #[error("invalid tenants or credentials: {0}")]
    Tenants(String),
    /// An upstream cannot be added.
    #[error("upstream {name:?}: {message}")]
    Upstream {
        /// The upstream's name.
        name: String,
        /// Why not.
        message: String,
    },
}

impl Reloader {
    /// Validate `new` and swap it in while the server runs (see the module
    /// docs for what changes and what needs a restart).
    /// Refused as a whole, changing nothing, if anything is invalid. One
    /// reload runs at a time. Logs what it did.
    pub async fn reload(&self, new: Config) -> Result<ReloadReport, ReloadError> {
        let result = self.try_reload(new).await;
        match &result {
            Ok(report) => {
                tracing::info!("configuration reloaded: {report}");
                if !report.needs_restart.is_empty() {
                    tracing::warn!(
                        "changed, but only read at start-up (the running values stay until a restart): {}",
                        report.needs_restart.join(", ")
                    );
                }
            }
            Err(e) => tracing::error!(
                "configuration reload refused, the running configuration stays: {e}"
            ),
        }
        result
    }

    async fn try_reload(&self, mut new: Config) -> Result<ReloadReport, ReloadError> {
        let p = &*self.0;
        let _one = p.lock.lock().await;
        new.validate()
            .map_err(|(key, message)| ReloadError::Invalid { key, message })?;
        let old = p.config.load();
        let mut report = ReloadReport {
            needs_restart: keep_restart_only(&mut new, &old),
            ..ReloadReport::default()
        };
        let tenants = Tenants::new(&new).map_err(ReloadError::Tenants)?;
        diff_tenants(&old, &new, &mut report);
        let plan = diff_upstreams(&old.upstreams, &new.upstreams, &mut report);
        let started = start_checked(&p.catalog, &plan, &new, p.upstreams.clone()).await?;
        report.applied = changed_keys(&old, &new);
        // Commit: from here on nothing is refused.
        p.gate.live_tenants().store(tenants);
        p.config.store(new);
        let metrics = &p.metrics;
        let gate = &p.gate;
        swap(
            &p.catalog,
            &plan,
            started,
            |name| metrics.upstreams.removed(name),
            |p| {
                p.observe(Arc::new(crate::upstreams::UpstreamEvents::new(
                    metrics.upstreams.sink(),
                    gate.clone(),
                )))
            },
        )
        .await;
        report.sessions_ended = self.end_orphaned_sessions().await;
        Ok(report)
    }

    /// End this node's live sessions whose tenant no longer exists (or is
    /// anonymous and anonymous access is now off).
    async fn end_orphaned_sessions(&self) -> usize {
        let tenants = self.0.gate.tenants();
        let orphans: Vec<Arc<str>> = self
            .0
            .sessions
            .registry()
            .all()
            .into_iter()
            .filter(|live| live.owner().is_some_and(|(_, t)| !tenants.has(t)))
            .map(|live| live.id.clone())
            .collect();
        for id in &orphans {
            tracing::info!(
                session = switchboard_observe::ids::short(id),
                "session ended: its tenant was removed"
            );
            if let Err(e) = self.0.sessions.end_session(id).await {
                tracing::warn!(
                    session = switchboard_observe::ids::short(id),
                    "cannot end the session: {e}"
                );
            }
        }
        orphans.len()
    }
}

/// Reload the upstreams of a front that has no [`Reloader`] (the stdio
/// front):
/// `new` is validated, the upstreams it adds or changes are started and
/// checked for tool name collisions (refused as a whole if any, nothing
/// changed), then swapped into `catalog` for those it removes or changes,
/// as [`Reloader::reload`] does. Other keys are not looked at; a change of the
/// built-in toolset is reported as needing a restart.
pub async fn reload_upstreams(
    catalog: &Catalog,
    old: &Config,
    new: &Config,
    shared: UpstreamsShared,
) -> Result<ReloadReport, ReloadError> {
    new.validate()
        .map_err(|(key, message)| ReloadError::Invalid { key, message })?;
    let mut report = ReloadReport::default();
    if builtin_changed(old, new) {
        report.needs_restart.push(BUILTIN.to_owned());
    }
    let plan = diff_upstreams(&old.upstreams, &new.upstreams, &mut report);
    let started = start_checked(catalog, &plan, new, shared).await?;
    swap(catalog, &plan, started, |_| {}, |_| {}).await;
    Ok(report)
}
