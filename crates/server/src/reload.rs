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

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use switchboard_config::Config;
use switchboard_runtime::{Catalog, Provider};
use switchboard_tenancy::Tenants;
use switchboard_upstream::gateway::{StdioProvider, TenantProcesses, UpstreamConfig, UpstreamKind};

use crate::app::App;
use switchboard_ops::upstreams::{Started, start_upstream};

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Top-level keys whose new values are in effect.
    pub applied: Vec<String>,
    /// Keys that changed but are only read at start-up: the running value
    /// stays until a restart.
    pub needs_restart: Vec<String>,
    pub tenants_added: Vec<String>,
    pub tenants_removed: Vec<String>,
    pub tenants_changed: Vec<String>,
    pub upstreams_added: Vec<String>,
    pub upstreams_removed: Vec<String>,
    pub upstreams_changed: Vec<String>,
    /// Sessions on this node ended because their tenant is gone.
    pub sessions_ended: usize,
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            ("applied", &self.applied),
            ("tenants added", &self.tenants_added),
            ("tenants removed", &self.tenants_removed),
            ("tenants changed", &self.tenants_changed),
            ("upstreams added", &self.upstreams_added),
            ("upstreams removed", &self.upstreams_removed),
            ("upstreams changed", &self.upstreams_changed),
            ("needs a restart", &self.needs_restart),
        ];
        let shown: Vec<String> = parts
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}: {}", v.join(", ")))
            .collect();
        if shown.is_empty() {
            return f.write_str("nothing changed");
        }
        write!(f, "{}", shown.join("; "))?;
        if self.sessions_ended > 0 {
            write!(f, "; sessions ended: {}", self.sessions_ended)?;
        }
        Ok(())
    }
}

/// Why a reload was refused; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("invalid configuration: `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("invalid tenants or credentials: {0}")]
    Tenants(String),
    #[error("upstream {name:?}: {message}")]
    Upstream { name: String, message: String },
}

impl App {
    /// Validate `new` and swap it in while the server runs (see the module
    /// docs of `reload.rs` for what changes and what needs a restart).
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
        let _one = self.reload_lock().lock().await;
        new.validate()
            .map_err(|(key, message)| ReloadError::Invalid { key, message })?;
        let old = self.config();
        let mut report = ReloadReport {
            needs_restart: keep_restart_only(&mut new, &old),
            ..ReloadReport::default()
        };
        let tenants = Tenants::new(&new).map_err(ReloadError::Tenants)?;
        diff_tenants(&old, &new, &mut report);
        let plan = diff_upstreams(&old.upstreams, &new.upstreams, &mut report);
        let tenant_processes = self.upstreams().tenant_processes.clone();
        let started = start_checked(self.catalog(), &plan, &new, tenant_processes).await?;
        report.applied = changed_keys(&old, &new);
        // Commit: from here on nothing is refused.
        self.gate().live_tenants().store(tenants);
        self.live_config().store(new);
        let metrics = self.metrics();
        swap(
            self.catalog(),
            &plan,
            started,
            |name| metrics.upstreams.removed(name),
            |p| p.observe(Arc::new(metrics.upstreams.sink())),
        )
        .await;
        report.sessions_ended = self.end_orphaned_sessions().await;
        Ok(report)
    }

    /// End this node's live sessions whose tenant no longer exists (or is
    /// anonymous and anonymous access is now off).
    async fn end_orphaned_sessions(&self) -> usize {
        let tenants = self.gate().tenants();
        let orphans: Vec<Arc<str>> = self
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
            if let Err(e) = self.end_session(id).await {
                tracing::warn!(
                    session = switchboard_observe::ids::short(id),
                    "cannot end the session: {e}"
                );
            }
        }
        orphans.len()
    }
}

/// Reload the upstreams of a front that has no [`App`] (the stdio front):
/// `new` is validated, the upstreams it adds or changes are started and
/// checked for tool name collisions (refused as a whole if any, nothing
/// changed), then swapped into `catalog` for those it removes or changes,
/// as [`App::reload`] does. Other keys are not looked at; a change of the
/// built-in toolset is reported as needing a restart.
pub async fn reload_upstreams(
    catalog: &Catalog,
    old: &Config,
    new: &Config,
    tenant_processes: TenantProcesses,
) -> Result<ReloadReport, ReloadError> {
    new.validate()
        .map_err(|(key, message)| ReloadError::Invalid { key, message })?;
    let mut report = ReloadReport::default();
    if builtin_changed(old, new) {
        report.needs_restart.push(BUILTIN.to_owned());
    }
    let plan = diff_upstreams(&old.upstreams, &new.upstreams, &mut report);
    let started = start_checked(catalog, &plan, new, tenant_processes).await?;
    swap(catalog, &plan, started, |_| {}, |_| {}).await;
    Ok(report)
}

/// Start the upstreams `plan` adds and check their tool names against
/// `catalog`'s (without those `plan` removes) and each other's; on a
/// collision, end them again and refuse.
async fn start_checked(
    catalog: &Catalog,
    plan: &UpstreamPlan,
    new: &Config,
    tenant_processes: TenantProcesses,
) -> Result<Vec<Started>, ReloadError> {
    let mut started = Vec::new();
    for u in &plan.add {
        let s = start_upstream(
            u,
            new.upstream_pool_size,
            catalog.bus().clone(),
            tenant_processes.clone(),
        )
        .await;
        started.push(s);
    }
    let remaining: Vec<Arc<dyn Provider>> = catalog
        .providers()
        .iter()
        .filter(|p| !plan.remove.contains(p.name()))
        .cloned()
        .collect();
    let mut taken = HashSet::new();
    let mut collision = None;
    'check: for s in &started {
        for name in s.tools.as_deref().unwrap_or_default() {
            let elsewhere = catalog.tool(name).is_some()
                || remaining
                    .iter()
                    .any(|p| p.owns_tool(name) && p.has_tool_definition(name));
            if elsewhere || !taken.insert(name.clone()) {
                collision = Some((s.provider.name().to_owned(), name.clone()));
                break 'check;
            }
        }
    }
    if let Some((upstream, tool)) = collision {
        for s in &started {
            Provider::shutdown(&*s.provider).await;
        }
        return Err(ReloadError::Upstream {
            name: upstream,
            message: format!(
                "tool name collision: {tool:?} is already served; give one of them a prefix"
            ),
        });
    }
    Ok(started)
}

/// Take the upstreams `plan` removes out of `catalog` (their processes
/// end; `removed` hears each name) and put `started` in (`added` sees each
/// provider first).
async fn swap(
    catalog: &Catalog,
    plan: &UpstreamPlan,
    started: Vec<Started>,
    removed: impl Fn(&str),
    added: impl Fn(&Arc<StdioProvider>),
) {
    for name in &plan.remove {
        if let Some(p) = catalog.remove_provider(name) {
            p.shutdown().await;
            removed(name);
        }
    }
    for s in started {
        added(&s.provider);
        let tools = s.tools.unwrap_or_default();
        let provider: Arc<dyn Provider> = s.provider;
        if let Err(e) = catalog.add_provider(provider.clone(), &tools) {
            tracing::error!(upstream = provider.name(), "upstream not added: {e}");
            tokio::spawn(async move { provider.shutdown().await });
        }
    }
}

/// How a change of the built-in toolset is named among keys needing a
/// restart.
const BUILTIN: &str = "upstreams (the built-in toolset)";

/// Whether the built-in toolset changed: its entries, or whether it is
/// served alone (no upstream configured). It is part of the catalog
/// itself, so only a restart changes it.
fn builtin_changed(old: &Config, new: &Config) -> bool {
    let builtin = |c: &Config| -> Vec<Value> {
        c.upstreams
            .iter()
            .filter(|u| u.kind == UpstreamKind::Builtin)
            .filter_map(|u| serde_json::to_value(u).ok())
            .collect()
    };
    builtin(new) != builtin(old) || new.upstreams.is_empty() != old.upstreams.is_empty()
}

/// Whether two values serialize differently.
fn differs<T: Serialize>(a: &T, b: &T) -> bool {
    serde_json::to_value(a).ok() != serde_json::to_value(b).ok()
}

/// Put the running values of the fields only read at start-up back into
/// `new`; return the names of those that differed.
fn keep_restart_only(new: &mut Config, old: &Config) -> Vec<String> {
    let mut kept = Vec::new();
    macro_rules! keep {
        ($($field:ident).+) => {
            if differs(&new.$($field).+, &old.$($field).+) {
                kept.push(stringify!($($field).+).replace(' ', ""));
                new.$($field).+ = old.$($field).+.clone();
            }
        };
    }
    keep!(listen);
    keep!(store);
    keep!(store_path);
    keep!(redis_url);
    keep!(redis_cluster);
    keep!(redis_prefix);
    keep!(redis_timeout_ms);
    keep!(event_log_events);
    keep!(event_log_bytes);
    // The stores are built with it: they keep no larger record.
    keep!(max_session_bytes);
    keep!(sealing_key);
    keep!(max_in_flight);
    keep!(max_queue);
    keep!(allowed_hosts);
    keep!(page_size);
    keep!(auth.audit);
    // The admin listener is bound once; its token reloads.
    keep!(admin.listen);
    keep!(admin.node_id);
    keep!(admin.allowed_hosts);
    // The trace exporter starts with the process.
    keep!(telemetry);
    if builtin_changed(old, new) {
        kept.push(BUILTIN.to_owned());
    }
    kept
}

/// The top-level keys whose values differ.
fn changed_keys(old: &Config, new: &Config) -> Vec<String> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return Vec::new();
    };
    b.iter()
        .filter(|(k, v)| a.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

fn diff_tenants(old: &Config, new: &Config, report: &mut ReloadReport) {
    let by_id = |c: &Config| -> BTreeMap<String, Value> {
        c.tenants
            .iter()
            .map(|t| (t.id.clone(), serde_json::to_value(t).unwrap_or_default()))
            .collect()
    };
    let (a, b) = (by_id(old), by_id(new));
    report.tenants_removed = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
    report.tenants_added = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
    report.tenants_changed = b
        .iter()
        .filter(|(k, v)| a.get(*k).is_some_and(|old| old != *v))
        .map(|(k, _)| k.clone())
        .collect();
}

/// Upstreams to end and to start; a changed one is both.
#[derive(Debug, Default)]
struct UpstreamPlan {
    remove: HashSet<String>,
    add: Vec<UpstreamConfig>,
}

fn diff_upstreams(
    old: &[UpstreamConfig],
    new: &[UpstreamConfig],
    report: &mut ReloadReport,
) -> UpstreamPlan {
    let by_name = |list: &[UpstreamConfig]| -> BTreeMap<String, Value> {
        list.iter()
            .filter(|u| u.kind != UpstreamKind::Builtin)
            .map(|u| (u.name.clone(), serde_json::to_value(u).unwrap_or_default()))
            .collect()
    };
    let (a, b) = (by_name(old), by_name(new));
    report.upstreams_removed = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
    report.upstreams_added = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
    report.upstreams_changed = b
        .iter()
        .filter(|(k, v)| a.get(*k).is_some_and(|old| old != *v))
        .map(|(k, _)| k.clone())
        .collect();
    let remove: HashSet<String> = report
        .upstreams_removed
        .iter()
        .chain(&report.upstreams_changed)
        .cloned()
        .collect();
    let start: HashSet<&String> = report
        .upstreams_added
        .iter()
        .chain(&report.upstreams_changed)
        .collect();
    let add = new
        .iter()
        .filter(|u| start.contains(&u.name))
        .cloned()
        .collect();
    UpstreamPlan { remove, add }
}
