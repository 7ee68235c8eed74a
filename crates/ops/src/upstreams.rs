//! Starting `[[upstreams]]` (stdio and HTTP) as catalog providers: the one
//! way the binary does it at start-up and a reload does it while serving.

use std::sync::Arc;

use switchboard_runtime::EventBus;
use switchboard_upstream::gateway::{StdioProvider, TenantProcesses, UpstreamConfig};

/// What every upstream of one server shares.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shared {
    /// Tenants' processes, counted across every upstream.
    pub(crate) tenant_processes: TenantProcesses,
}

impl Shared {
    /// What upstreams share: `tenant_processes`, the tenants' process
    /// counts.
    pub(crate) fn new(tenant_processes: TenantProcesses) -> Self {
        Self { tenant_processes }
    }
}

/// A started upstream: its provider, and its tool names if its probe
/// succeeded (else why not).
#[derive(Debug)]
pub struct Started {
    /// The upstream's provider (supervised; started again if its probe
    /// failed).
    pub provider: Arc<StdioProvider>,
    /// Its tool names, or why its probe failed.
    pub tools: Result<Vec<String>, String>,
}

/// Build the provider of `u` (a stdio or HTTP entry) and probe it: one
/// process is started and its lists read, so its tool names are known. A
/// failed probe still gives a provider (supervised, started by a later
/// call): one upstream that cannot start does not keep the others from
/// being served.
pub async fn start_upstream(
    u: &UpstreamConfig,
    pool_size: usize,
    bus: Arc<dyn EventBus>,
    tenant_processes: TenantProcesses,
) -> Started {
    let mut u = u.clone();
    u.pool_size = u.pool_size.or(Some(pool_size));
    let provider = Arc::new(StdioProvider::with_shared(
        u.clone(),
        Some(bus),
        tenant_processes,
    ));
    let tools = provider.probe().await;
    match &tools {
        Ok(names) => tracing::info!(upstream = %u.name, tools = names.len(), "upstream ready"),
        Err(e) => tracing::error!(
            upstream = %u.name,
            "upstream did not start: {e}; serving without it until it does"
        ),
    }
    Started { provider, tools }
}
