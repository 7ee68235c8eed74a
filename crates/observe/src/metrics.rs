//! Prometheus metrics of the node: sessions, requests and their latency,
//! admission, streams, the event log, capacity, tenants, upstreams and
//! connections. Label values come only from closed sets (methods we serve,
//! tools in the catalog or listed by an upstream, configured tenants and
//! upstreams, fixed reasons), so a client cannot grow the number of series.
//!
//! The families are grouped by what they count, one group per file, each
//! registering its own families; [`Metrics`] holds the groups and the
//! registry they are exposed from.

use prometheus_client::registry::Registry;

mod build;
mod connections;
mod handles;
mod labels;
mod node;
mod requests;
mod sessions;
mod tenants;
mod upstreams;

pub use connections::{ACCEPT_ERROR_KINDS, Connections, Pool, Refusal};
pub use labels::{code, outcome, tool_of};
pub use node::Node;
pub use requests::Requests;
pub use sessions::{Sessions, StreamGauge};
pub use tenants::Tenants;
pub use upstreams::{UpstreamSink, Upstreams};

/// Every metric family, registered once under the `switchboard_` prefix.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Sessions, their streams and the event log.
    pub sessions: Sessions,
    /// Requests, admission and refusals.
    pub requests: Requests,
    /// Each tenant's requests, refusals, sessions and streams.
    pub tenants: Tenants,
    /// Each upstream's processes, breaker, calls and errors.
    pub upstreams: Upstreams,
    /// Cap use, store readiness and store errors.
    pub node: Node,
    /// Open, refused and failed connections.
    pub connections: Connections,
}

impl Metrics {
    /// Every family registered, each series of a closed label set at zero.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("switchboard");
        let sessions = Sessions::register(&mut r);
        let requests = Requests::register(&mut r);
        let tenants = Tenants::register(&mut r);
        let upstreams = Upstreams::register(&mut r);
        let node = Node::register(&mut r);
        let connections = Connections::register(&mut r);
        Self {
            registry: r,
            sessions,
            requests,
            tenants,
            upstreams,
            node,
            connections,
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family the node exposes (after the `switchboard_` prefix).
    const FAMILIES: [&str; 39] = [
        "sessions_open",
        "session_age_seconds",
        "open_streams",
        "event_log_bytes",
        "session_evictions",
        "session_expiries",
        "requests",
        "request_duration_seconds",
        "tool_call_duration_seconds",
        "queue_depth",
        "in_flight",
        "in_hand",
        "queue_wait_seconds",
        "rejections",
        "tenant_requests",
        "tenant_request_duration_seconds",
        "tenant_rejections",
        "tenant_sessions",
        "tenant_streams",
        "policy_refusals",
        "redactions",
        "guardrail_decisions",
        "upstream_processes",
        "upstream_breaker_state",
        "upstream_calls",
        "upstream_failures",
        "upstream_processes_starting",
        "upstream_processes_idle",
        "upstream_process_restarts",
        "upstream_process_kills",
        "upstream_pool_wait_seconds",
        "upstream_request_duration_seconds",
        "upstream_errors",
        "capacity_ratio",
        "store_errors",
        "ready",
        "connections_open",
        "connections_refused",
        "accept_errors",
    ];

    /// Families fed only from the providers' health at a scrape
    /// (`Upstreams::update`; the gateway's end-to-end tests read them).
    const FROM_HEALTH: [&str; 5] = [
        "upstream_breaker_state",
        "upstream_calls",
        "upstream_failures",
        "upstream_process_restarts",
        "upstream_process_kills",
    ];

    /// One sample in every family a request, a tenant, an upstream call or
    /// the node can reach, through the groups' methods.
    fn record_one_of_each(m: &Metrics) {
        let took = std::time::Duration::from_millis(3);
        m.sessions.ended(took);
        m.requests.finished("tools/call", Some("echo"), "ok", took);
        m.tenants.finished("acme", "ok", took);
        m.tenants.rejected("acme", "quota");
        m.tenants.sessions("acme").inc();
        m.tenants.streams("acme").inc();
        m.tenants.policy_refused("acme", "repos");
        m.tenants.redacted("acme", "jwt");
        m.tenants.hook_decided("dlp", "before", "deny");
        m.upstreams.removed("up");
        let sink = m.upstreams.sink();
        switchboard_runtime::UpstreamObserver::pool_waited(&sink, "up", took);
        switchboard_runtime::UpstreamObserver::request(
            &sink,
            "up",
            "tools/call",
            took,
            Some("timeout"),
        );
        m.node.set_capacity("sessions", 0.5);
    }

    #[test]
    fn every_family_is_registered_once() {
        let m = Metrics::new();
        record_one_of_each(&m);
        let text = m.encode();
        let types: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE switchboard_"))
            .filter_map(|l| l.split(' ').next())
            .collect();
        let want: Vec<&str> = FAMILIES
            .into_iter()
            .filter(|f| !FROM_HEALTH.contains(f))
            .collect();
        assert_eq!(types.len(), want.len(), "{types:?}");
        for family in want {
            assert!(types.contains(&family), "{family} missing: {types:?}");
        }
    }

    #[test]
    fn closed_label_sets_start_at_zero() {
        let text = Metrics::new().encode();
        for series in [
            "switchboard_rejections_total{reason=\"draining\"} 0",
            "switchboard_store_errors_total{call=\"count\"} 0",
            "switchboard_connections_open{pool=\"probe\"} 0",
            "switchboard_connections_refused_total{reason=\"probe_only\"} 0",
            "switchboard_accept_errors_total{listener=\"admin\",kind=\"aborted\"} 0",
        ] {
            assert!(text.lines().any(|l| l == series), "{series} missing");
        }
    }

    #[test]
    fn groups_record_into_the_one_registry() {
        let m = Metrics::new();
        m.requests.rejected("draining");
        m.tenants.rejected("acme", "quota");
        m.connections.refused(Refusal::Total);
        m.node.set_capacity("sessions", 0.5);
        let text = m.encode();
        for series in [
            "switchboard_rejections_total{reason=\"draining\"} 1",
            "switchboard_tenant_rejections_total{tenant=\"acme\",reason=\"quota\"} 1",
            "switchboard_connections_refused_total{reason=\"total_cap\"} 1",
            "switchboard_capacity_ratio{resource=\"sessions\"} 0.5",
        ] {
            assert!(text.lines().any(|l| l == series), "{series} missing");
        }
    }
}
