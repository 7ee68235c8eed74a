//! The catalog a server serves: the server's own tools (or, when it has
//! none, the built-in toolset) and the configured `[[upstreams]]`, merged
//! into one namespace.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_runtime::{Catalog, CatalogBuilder};
use switchboard_server::Config;
use switchboard_server::upstreams::start_upstream;
use switchboard_upstream::gateway::{UpstreamKind, UpstreamsShared};

/// The catalog, and what its upstreams share (the app's, so upstreams a
/// reload adds share it too).
pub(crate) struct Built {
    pub(crate) catalog: Catalog,
    pub(crate) upstreams: UpstreamsShared,
}

/// Build the catalog from `own` (the server's own tools, resources and
/// prompts, if it has any) and the configured upstreams; every stdio
/// upstream is started once so its tool names are known, and a name two
/// sources share stops the start-up. `events` is the cluster's event bus,
/// if this node is one of several.
pub(crate) async fn build(
    config: &Config,
    own: Option<CatalogBuilder>,
    events: Option<Arc<dyn switchboard_runtime::EventBus>>,
    vault: Option<Arc<switchboard_identity::Vault>>,
    pins: switchboard_upstream::gateway::PinBook,
) -> Result<Built, String> {
    // One bus for the catalog and the upstreams' resource updates.
    let bus = events.unwrap_or_else(|| Arc::new(switchboard_runtime::LocalBus::default()));
    let has_own = own.is_some();
    let mut builder = own.unwrap_or_default().bus(bus.clone());
    // Tenants' upstream processes are counted across every upstream.
    let upstreams = UpstreamsShared {
        processes: Default::default(),
        vault,
        pins,
    };
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
    if has_own {
        // A name the own tools have twice is the catalog's error, below.
        let mut names = builder.tool_names();
        names.sort();
        names.dedup();
        claim(names, "the server's own tools")?;
    } else if config.upstreams.is_empty() {
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
                // One upstream that cannot start does not keep the others
                // from being served: it is left out of lists until a later
                // list or call starts it (its failures count on its
                // breaker, and /readyz names it).
                let started =
                    start_upstream(u, config.upstream_pool_size, bus.clone(), upstreams.clone())
                        .await;
                if let Ok(names) = started.tools {
                    claim(names, &format!("upstream {:?}", u.name))?;
                }
                builder = builder.provider(started.provider);
            }
        }
    }
    let catalog = builder
        .page_size(config.page_size)
        .build()
        .map_err(|e| format!("invalid toolset: {e}"))?;
    Ok(Built { catalog, upstreams })
}

/// End idle per-principal upstream processes, every half minute (of the
/// upstreams in the catalog at that moment: a reload may change them).
pub(crate) fn reap_idle(catalog: Arc<Catalog>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            for p in catalog.providers().iter() {
                p.reap_idle().await;
            }
        }
    });
}
