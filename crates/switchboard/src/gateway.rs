//! The catalog a server serves: the built-in toolset alone, or the
//! configured `[[upstreams]]` merged into one namespace.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_runtime::{Catalog, CatalogBuilder};
use switchboard_server::Config;
use switchboard_upstream::gateway::{StdioProvider, UpstreamKind};

/// The catalog, and the stdio providers (for their idle reaper).
pub(crate) struct Built {
    pub(crate) catalog: Catalog,
    pub(crate) providers: Vec<Arc<StdioProvider>>,
}

/// Build the catalog; every stdio upstream is started once so its tool
/// names are known, and a name two sources share stops the start-up.
/// `events` is the cluster's event bus, if this node is one of several.
pub(crate) async fn build(
    config: &Config,
    events: Option<Arc<dyn switchboard_runtime::EventBus>>,
) -> Result<Built, String> {
    // One bus for the catalog and the upstreams' resource updates.
    let bus = events.unwrap_or_else(|| Arc::new(switchboard_runtime::LocalBus::default()));
    let mut builder = CatalogBuilder::new().bus(bus.clone());
    // Tenants' upstream processes are counted across every upstream.
    let tenant_processes = switchboard_upstream::gateway::TenantProcesses::default();
    let mut providers = Vec::new();
    // tool name → the source that has it
    let mut owners: HashMap<String, String> = HashMap::new();
    let mut claim = |names: Vec<String>, source: &str| -> Result<(), String> {
        for name in names {
            if let Some(other) = owners.insert(name.clone(), source.to_owned()) {
                return Err(format!(
                    "tool name collision: {name:?} comes from both {other} and {source}; give one of them a prefix"
                ));
            }
        }
        Ok(())
    };
    if config.upstreams.is_empty() {
        builder = builder.merge(switchboard_everything::everything());
    }
    for u in &config.upstreams {
        match u.kind {
            UpstreamKind::Builtin => {
                let everything = switchboard_everything::everything();
                let names = everything.tool_names();
                claim(names, &format!("upstream {:?}", u.name))?;
                builder = builder.merge(everything);
            }
            UpstreamKind::Stdio | UpstreamKind::Http => {
                let mut u = u.clone();
                u.pool_size = u.pool_size.or(Some(config.upstream_pool_size));
                let provider = Arc::new(StdioProvider::with_shared(
                    u.clone(),
                    Some(bus.clone()),
                    tenant_processes.clone(),
                ));
                // One upstream that cannot start does not keep the others
                // from being served: it is left out of lists until a later
                // list or call starts it (its failures count on its
                // breaker, and /readyz names it).
                match provider.probe().await {
                    Ok(names) => {
                        tracing::info!(upstream = %u.name, tools = names.len(), "upstream ready");
                        claim(names, &format!("upstream {:?}", u.name))?;
                    }
                    Err(e) => tracing::error!(
                        upstream = %u.name,
                        "upstream did not start: {e}; serving without it until it does"
                    ),
                }
                builder = builder.provider(provider.clone());
                providers.push(provider);
            }
        }
    }
    let catalog = builder
        .page_size(config.page_size)
        .build()
        .map_err(|e| format!("invalid toolset: {e}"))?;
    Ok(Built { catalog, providers })
}

/// End idle per-principal upstream processes, every half minute.
pub(crate) fn reap_idle(providers: Vec<Arc<StdioProvider>>) {
    if providers.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            for p in &providers {
                p.reap_idle().await;
            }
        }
    });
}
