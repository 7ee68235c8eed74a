//! Starting `[[upstreams]]` (stdio and HTTP) as catalog providers: the one
//! way the binary does it at start-up and a reload does it while serving.

use std::sync::Arc;

use switchboard_runtime::EventBus;
use switchboard_upstream::gateway::{StdioProvider, UpstreamConfig, UpstreamsShared};

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
    shared: UpstreamsShared,
) -> Started {
    let mut u = u.clone();
    u.pool_size = u.pool_size.or(Some(pool_size));
    let provider = Arc::new(StdioProvider::with_shared(u.clone(), Some(bus), shared));
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

/// What upstreams report, into the metrics and, for credentials, the
/// audit trail: each token had (or not) for a caller names the upstream,
/// the principal and the outcome, never the token.
#[derive(Debug)]
pub struct UpstreamEvents {
    sink: switchboard_observe::metrics::UpstreamSink,
    gate: switchboard_tenancy::Gate,
}

impl UpstreamEvents {
    /// Metrics into `sink`, audit lines into `gate`'s trail.
    pub fn new(
        sink: switchboard_observe::metrics::UpstreamSink,
        gate: switchboard_tenancy::Gate,
    ) -> Self {
        Self { sink, gate }
    }
}

impl switchboard_runtime::UpstreamObserver for UpstreamEvents {
    fn pool_waited(&self, upstream: &str, waited: std::time::Duration) {
        self.sink.pool_waited(upstream, waited);
    }

    fn request(
        &self,
        upstream: &str,
        method: &str,
        took: std::time::Duration,
        error: Option<&'static str>,
    ) {
        self.sink.request(upstream, method, took, error);
    }

    fn pin(&self, event: switchboard_runtime::PinEvent<'_>) {
        self.sink.pin(event);
        self.gate
            .audit()
            .record(&switchboard_observe::audit::AuditEvent {
                event: "tool_definition_changed",
                upstream: Some(event.upstream),
                tool: Some(event.tool),
                outcome: event.outcome,
                detail: Some(event.kind),
                ..Default::default()
            });
    }

    fn token(&self, event: switchboard_runtime::TokenEvent<'_>) {
        self.sink.token(event);
        let caller = event.caller;
        let session = caller
            .session
            .as_deref()
            .map(switchboard_observe::ids::short);
        self.gate
            .audit()
            .record(&switchboard_observe::audit::AuditEvent {
                event: "upstream_credential",
                tenant: Some(&caller.tenant),
                principal: Some(&caller.subject),
                session,
                upstream: Some(event.upstream),
                outcome: event.outcome,
                ..Default::default()
            });
    }
}
