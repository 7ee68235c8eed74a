//! Planning a reload: which keys changed and which need a restart, the
//! tenants and upstreams added, removed and changed, starting the new
//! upstreams (checked for tool name collisions) and swapping them into the
//! catalog.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use switchboard_config::Config;
use switchboard_runtime::{Catalog, Provider};
use switchboard_upstream::gateway::{StdioProvider, UpstreamConfig, UpstreamKind, UpstreamsShared};

use super::{ReloadError, ReloadReport};
use crate::upstreams::{Started, start_upstream};

/// Start the upstreams `plan` adds and check their tool names against
/// `catalog`'s (without those `plan` removes) and each other's; on a
/// collision, end them again and refuse.
pub(super) async fn start_checked(
    catalog: &Catalog,
    plan: &UpstreamPlan,
    new: &Config,
    shared: UpstreamsShared,
) -> Result<Vec<Started>, ReloadError> {
    let mut started = Vec::new();
    for u in &plan.add {
        let s = start_upstream(
            u,
            new.upstream_pool_size,
            catalog.bus().clone(),
            shared.clone(),
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
pub(super) async fn swap(
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
pub(super) const BUILTIN: &str = "upstreams (the built-in toolset)";

/// Whether the built-in toolset changed: its entries, or whether it is
/// served alone (no upstream configured). It is part of the catalog
/// itself, so only a restart changes it.
pub(super) fn builtin_changed(old: &Config, new: &Config) -> bool {
    let builtin = |c: &Config| -> Vec<UpstreamConfig> {
        c.upstreams
            .iter()
            .filter(|u| u.kind == UpstreamKind::Builtin)
            .cloned()
            .collect()
    };
    builtin(new) != builtin(old) || new.upstreams.is_empty() != old.upstreams.is_empty()
}

/// Whether two values differ (secrets by their values, not only by the
/// reference written out).
fn differs<T: PartialEq>(a: &T, b: &T) -> bool {
    a != b
}

/// Put the running values of the fields only read at start-up back into
/// `new`; return the names of those that differed.
pub(super) fn keep_restart_only(new: &mut Config, old: &Config) -> Vec<String> {
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
    // The vault is opened with the store.
    keep!(vault);
    // The authorization server starts with the store and its keys.
    keep!(oauth);
    if builtin_changed(old, new) {
        kept.push(BUILTIN.to_owned());
    }
    kept
}

/// The top-level keys whose values differ.
pub(super) fn changed_keys(old: &Config, new: &Config) -> Vec<String> {
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

pub(super) fn diff_tenants(old: &Config, new: &Config, report: &mut ReloadReport) {
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
pub(super) struct UpstreamPlan {
    remove: HashSet<String>,
    add: Vec<UpstreamConfig>,
}

pub(super) fn diff_upstreams(
    old: &[UpstreamConfig],
    new: &[UpstreamConfig],
    report: &mut ReloadReport,
) -> UpstreamPlan {
    // Compared as values, not as written out: a secret file rotated
    // behind an unchanged reference restarts its upstream.
    let by_name = |list: &[UpstreamConfig]| -> BTreeMap<String, UpstreamConfig> {
        list.iter()
            .filter(|u| u.kind != UpstreamKind::Builtin)
            .map(|u| (u.name.clone(), u.clone()))
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
