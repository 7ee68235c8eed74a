//! Prometheus metrics of the node: sessions, requests and their latency,
//! admission, streams, the event log, capacity, and the upstreams. Label
//! values come only from closed sets (methods we serve, tools in the catalog
//! or listed by an upstream, configured tenants and upstreams, fixed
//! reasons), so a client cannot grow the number of series.

use std::sync::atomic::AtomicI64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodOutcome {
    method: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Method {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Tool {
    tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantOutcome {
    tenant: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabel {
    tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantReason {
    tenant: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Upstream {
    upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamState {
    upstream: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamMethod {
    upstream: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamError {
    upstream: String,
    method: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreCall {
    call: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Resource {
    resource: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnPool {
    pool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AcceptError {
    listener: &'static str,
    kind: &'static str,
}

fn latency() -> Histogram {
    // 50 µs .. ~26 s
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

/// Every metric family, registered once.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) sessions_open: Gauge,
    session_age: Histogram,
    requests: Family<MethodOutcome, Counter>,
    request_latency: Family<Method, Histogram, fn() -> Histogram>,
    tool_latency: Family<Tool, Histogram, fn() -> Histogram>,
    pub(crate) queue_depth: Gauge,
    pub(crate) in_flight: Gauge,
    queue_wait: Histogram,
    rejections: Family<Reason, Counter>,
    pub(crate) open_streams: Gauge,
    pub(crate) event_log_bytes: Gauge,
    evictions: Counter,
    expiries: Counter,
    capacity: Family<Resource, Gauge<f64, std::sync::atomic::AtomicU64>>,
    tenant_requests: Family<TenantOutcome, Counter>,
    tenant_latency: Family<TenantLabel, Histogram, fn() -> Histogram>,
    tenant_rejections: Family<TenantReason, Counter>,
    tenant_sessions: Family<TenantLabel, Gauge>,
    tenant_streams: Family<TenantLabel, Gauge>,
    upstream_processes: Family<Upstream, Gauge>,
    upstream_breaker: Family<UpstreamState, Gauge>,
    upstream_calls: Family<Upstream, Counter>,
    upstream_failures: Family<Upstream, Counter>,
    upstream_starting: Family<Upstream, Gauge>,
    upstream_idle: Family<Upstream, Gauge>,
    upstream_restarts: Family<Upstream, Counter>,
    upstream_kills: Family<Upstream, Counter>,
    upstream_pool_wait: Family<Upstream, Histogram, fn() -> Histogram>,
    upstream_latency: Family<UpstreamMethod, Histogram, fn() -> Histogram>,
    upstream_errors: Family<UpstreamError, Counter>,
    store_errors: Family<StoreCall, Counter>,
    connections_open: Family<ConnPool, Gauge>,
    connections_refused: Family<Reason, Counter>,
    accept_errors: Family<AcceptError, Counter>,
    pub(crate) ready: Gauge,
    /// Last seen call, failure, restart and kill totals of each upstream
    /// (counters move by the difference).
    upstream_seen: std::sync::Mutex<std::collections::HashMap<String, [u64; 4]>>,
}

/// Where the providers report their waits, latencies and errors: the
/// families' handles (a family is shared by its clones).
#[derive(Debug, Clone)]
pub(crate) struct UpstreamSink {
    pool_wait: Family<Upstream, Histogram, fn() -> Histogram>,
    latency: Family<UpstreamMethod, Histogram, fn() -> Histogram>,
    errors: Family<UpstreamError, Counter>,
}

impl switchboard_runtime::UpstreamObserver for UpstreamSink {
    fn pool_waited(&self, upstream: &str, waited: Duration) {
        self.pool_wait
            .get_or_create(&Upstream {
                upstream: upstream.to_owned(),
            })
            .observe(waited.as_secs_f64());
    }

    fn request(&self, upstream: &str, method: &str, took: Duration, error: Option<&'static str>) {
        let method = known_method(method);
        self.latency
            .get_or_create(&UpstreamMethod {
                upstream: upstream.to_owned(),
                method,
            })
            .observe(took.as_secs_f64());
        if let Some(reason) = error {
            self.errors
                .get_or_create(&UpstreamError {
                    upstream: upstream.to_owned(),
                    method,
                    reason,
                })
                .inc();
        }
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("switchboard"),
            sessions_open: Gauge::default(),
            session_age: Histogram::new(exponential_buckets(1.0, 2.0, 16)),
            requests: Family::default(),
            request_latency: Family::new_with_constructor(latency),
            tool_latency: Family::new_with_constructor(latency),
            queue_depth: Gauge::default(),
            in_flight: Gauge::default(),
            queue_wait: latency(),
            rejections: Family::default(),
            open_streams: Gauge::default(),
            event_log_bytes: Gauge::default(),
            evictions: Counter::default(),
            expiries: Counter::default(),
            capacity: Family::default(),
            tenant_requests: Family::default(),
            tenant_latency: Family::new_with_constructor(latency),
            tenant_rejections: Family::default(),
            tenant_sessions: Family::default(),
            tenant_streams: Family::default(),
            upstream_processes: Family::default(),
            upstream_breaker: Family::default(),
            upstream_calls: Family::default(),
            upstream_failures: Family::default(),
            upstream_starting: Family::default(),
            upstream_idle: Family::default(),
            upstream_restarts: Family::default(),
            upstream_kills: Family::default(),
            upstream_pool_wait: Family::new_with_constructor(latency),
            upstream_latency: Family::new_with_constructor(latency),
            upstream_errors: Family::default(),
            store_errors: Family::default(),
            connections_open: Family::default(),
            connections_refused: Family::default(),
            accept_errors: Family::default(),
            ready: Gauge::default(),
            upstream_seen: Default::default(),
        };
        let r = &mut m.registry;
        r.register(
            "sessions_open",
            "Sessions held (all eras with sessions)",
            m.sessions_open.clone(),
        );
        r.register(
            "session_age_seconds",
            "Age of sessions when they end",
            m.session_age.clone(),
        );
        r.register(
            "requests",
            "Requests by method and outcome",
            m.requests.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Request latency by method",
            m.request_latency.clone(),
        );
        r.register(
            "tool_call_duration_seconds",
            "tools/call latency by tool",
            m.tool_latency.clone(),
        );
        r.register(
            "queue_depth",
            "Requests waiting for a running slot",
            m.queue_depth.clone(),
        );
        r.register("in_flight", "Requests running", m.in_flight.clone());
        r.register(
            "queue_wait_seconds",
            "Time requests waited for a running slot",
            m.queue_wait.clone(),
        );
        r.register(
            "rejections",
            "Refused requests and sessions by reason",
            m.rejections.clone(),
        );
        r.register(
            "open_streams",
            "Open SSE response streams",
            m.open_streams.clone(),
        );
        r.register(
            "event_log_bytes",
            "Bytes of SSE events kept for resumption",
            m.event_log_bytes.clone(),
        );
        r.register(
            "session_evictions",
            "Sessions evicted to admit new ones",
            m.evictions.clone(),
        );
        r.register(
            "session_expiries",
            "Sessions ended by the reaper",
            m.expiries.clone(),
        );
        r.register(
            "capacity_ratio",
            "Use of each cap, 0..1 (warning past 0.9)",
            m.capacity.clone(),
        );
        r.register(
            "tenant_requests",
            "Requests by tenant and outcome (tenants come from the configuration)",
            m.tenant_requests.clone(),
        );
        r.register(
            "tenant_request_duration_seconds",
            "Request latency by tenant",
            m.tenant_latency.clone(),
        );
        r.register(
            "tenant_rejections",
            "Refused requests by tenant and reason (rate_limited, quota, forbidden, queue_full, queue_timeout)",
            m.tenant_rejections.clone(),
        );
        r.register(
            "tenant_sessions",
            "Sessions held by tenant",
            m.tenant_sessions.clone(),
        );
        r.register(
            "tenant_streams",
            "Open standalone SSE streams by tenant",
            m.tenant_streams.clone(),
        );
        r.register(
            "upstream_processes",
            "Processes each upstream runs now",
            m.upstream_processes.clone(),
        );
        r.register(
            "upstream_breaker_state",
            "Circuit breaker of each upstream: 1 for its current state",
            m.upstream_breaker.clone(),
        );
        r.register(
            "upstream_calls",
            "Calls to each upstream",
            m.upstream_calls.clone(),
        );
        r.register(
            "upstream_failures",
            "Calls that failed for the upstream's reasons (timeouts, crashes, open breaker)",
            m.upstream_failures.clone(),
        );
        r.register(
            "upstream_processes_starting",
            "Processes (or connections) of each upstream being started now",
            m.upstream_starting.clone(),
        );
        r.register(
            "upstream_processes_idle",
            "Live processes of each upstream serving no request now (the warm one included)",
            m.upstream_idle.clone(),
        );
        r.register(
            "upstream_process_restarts",
            "Processes of each upstream started in place of one that died",
            m.upstream_restarts.clone(),
        );
        r.register(
            "upstream_process_kills",
            "Processes of each upstream Switchboard ended (session ended, idle, a warm one giving its slot up)",
            m.upstream_kills.clone(),
        );
        r.register(
            "upstream_pool_wait_seconds",
            "Time new sessions waited for a process slot of each upstream",
            m.upstream_pool_wait.clone(),
        );
        r.register(
            "upstream_request_duration_seconds",
            "Requests to each upstream by method (lists, reads, calls…; others as other), retries and limit waits included",
            m.upstream_latency.clone(),
        );
        r.register(
            "upstream_errors",
            "Failed requests to each upstream by method and reason (timeout, exited, unavailable, limited, circuit_open, misbehaving, http, upstream, cancelled, other)",
            m.upstream_errors.clone(),
        );
        r.register(
            "store_errors",
            "Failed session-store calls by call (load, touch, create, count)",
            m.store_errors.clone(),
        );
        r.register(
            "ready",
            "1 when the session store answers (what /readyz says), else 0; set at each scrape",
            m.ready.clone(),
        );
        r.register(
            "connections_open",
            "Open connections by pool: main (the MCP listener, under max_connections), probe (its reserve past the cap, for health checks and scrapes only), admin",
            m.connections_open.clone(),
        );
        r.register(
            "connections_refused",
            "Connections refused as they were accepted, by reason (total_cap, per_address_cap, admin_cap), and probe-reserve connections refused for asking more than a probe (probe_only)",
            m.connections_refused.clone(),
        );
        r.register(
            "accept_errors",
            "Failed accepts by listener (mcp, admin) and kind (descriptors: out of file descriptors; memory; aborted: the client left first; other)",
            m.accept_errors.clone(),
        );
        for pool in crate::conns::Pool::ALL {
            let _ = m
                .connections_open
                .get_or_create(&ConnPool { pool: pool.label() });
        }
        for reason in crate::conns::Refusal::ALL {
            let _ = m.connections_refused.get_or_create(&Reason {
                reason: reason.label(),
            });
        }
        for listener in ["mcp", "admin"] {
            for kind in crate::accept::KINDS {
                let _ = m
                    .accept_errors
                    .get_or_create(&AcceptError { listener, kind });
            }
        }
        for call in ["load", "touch", "create", "count"] {
            let _ = m.store_errors.get_or_create(&StoreCall { call });
        }
        // Every rejection reason exists from the start, so rates and alerts
        // see a zero rather than no series.
        for reason in [
            "session_cap",
            "per_identity_cap",
            "queue_full",
            "queue_timeout",
            "timeout",
            "stream_cap",
            "draining",
        ] {
            let _ = m.rejections.get_or_create(&Reason { reason });
        }
        m
    }

    /// A finished request: its method (from the closed set we serve), the
    /// tool if known to the catalog, the outcome and how long it took.
    pub(crate) fn request(
        &self,
        method: &str,
        tool: Option<&str>,
        outcome: &'static str,
        took: Duration,
    ) {
        let method = known_method(method);
        self.requests
            .get_or_create(&MethodOutcome { method, outcome })
            .inc();
        self.request_latency
            .get_or_create(&Method { method })
            .observe(took.as_secs_f64());
        if let Some(tool) = tool {
            self.tool_latency
                .get_or_create(&Tool {
                    tool: tool.to_owned(),
                })
                .observe(took.as_secs_f64());
        }
    }

    /// A finished request of `tenant`.
    pub(crate) fn tenant_request(&self, tenant: &str, outcome: &'static str, took: Duration) {
        let tenant = tenant.to_owned();
        self.tenant_latency
            .get_or_create(&TenantLabel {
                tenant: tenant.clone(),
            })
            .observe(took.as_secs_f64());
        self.tenant_requests
            .get_or_create(&TenantOutcome { tenant, outcome })
            .inc();
    }

    /// Bring the upstream families up to date with the providers' health.
    pub(crate) fn upstreams(
        &self,
        providers: &[std::sync::Arc<dyn switchboard_runtime::Provider>],
    ) {
        let mut seen = self.upstream_seen.lock().unwrap_or_else(|e| e.into_inner());
        for p in providers {
            let h = p.health();
            let upstream = p.name().to_owned();
            let label = Upstream {
                upstream: upstream.clone(),
            };
            self.upstream_processes
                .get_or_create(&label)
                .set(h.processes as i64);
            for state in ["closed", "open", "half_open"] {
                self.upstream_breaker
                    .get_or_create(&UpstreamState {
                        upstream: upstream.clone(),
                        state,
                    })
                    .set(i64::from(state == h.breaker));
            }
            self.upstream_starting
                .get_or_create(&label)
                .set(h.starting as i64);
            self.upstream_idle.get_or_create(&label).set(h.idle as i64);
            let last = seen.entry(upstream).or_default();
            let now = [h.calls, h.failures, h.restarts, h.kills];
            for (family, (now, last)) in [
                &self.upstream_calls,
                &self.upstream_failures,
                &self.upstream_restarts,
                &self.upstream_kills,
            ]
            .into_iter()
            .zip(now.iter().zip(last.iter()))
            {
                family
                    .get_or_create(&label)
                    .inc_by(now.saturating_sub(*last));
            }
            *last = now;
        }
    }

    /// The upstream `name` was removed (a reload): its gauges go to zero,
    /// and a provider added under the same name counts from its own zero.
    pub(crate) fn upstream_removed(&self, name: &str) {
        let mut seen = self.upstream_seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.remove(name);
        let label = Upstream {
            upstream: name.to_owned(),
        };
        for family in [
            &self.upstream_processes,
            &self.upstream_starting,
            &self.upstream_idle,
        ] {
            family.get_or_create(&label).set(0);
        }
    }

    /// The sink providers report waits, latencies and errors to.
    pub(crate) fn upstream_sink(&self) -> UpstreamSink {
        UpstreamSink {
            pool_wait: self.upstream_pool_wait.clone(),
            latency: self.upstream_latency.clone(),
            errors: self.upstream_errors.clone(),
        }
    }

    /// A refused request of `tenant`.
    pub(crate) fn tenant_rejected(&self, tenant: &str, reason: &'static str) {
        self.tenant_rejections
            .get_or_create(&TenantReason {
                tenant: tenant.to_owned(),
                reason,
            })
            .inc();
    }

    /// The gauge of `tenant`'s sessions.
    pub(crate) fn tenant_sessions(&self, tenant: &str) -> Gauge {
        self.tenant_sessions
            .get_or_create(&TenantLabel {
                tenant: tenant.to_owned(),
            })
            .clone()
    }

    /// The gauge of `tenant`'s open standalone streams.
    pub(crate) fn tenant_streams(&self, tenant: &str) -> Gauge {
        self.tenant_streams
            .get_or_create(&TenantLabel {
                tenant: tenant.to_owned(),
            })
            .clone()
    }

    /// A session-store call failed.
    pub(crate) fn store_failed(&self, call: &'static str) {
        self.store_errors.get_or_create(&StoreCall { call }).inc();
    }

    /// A connection was admitted into `pool`.
    pub(crate) fn connection_opened(&self, pool: crate::conns::Pool) {
        self.connections_open
            .get_or_create(&ConnPool { pool: pool.label() })
            .inc();
    }

    /// A connection of `pool` ended.
    pub(crate) fn connection_closed(&self, pool: crate::conns::Pool) {
        self.connections_open
            .get_or_create(&ConnPool { pool: pool.label() })
            .dec();
    }

    /// A connection was refused.
    pub(crate) fn connection_refused(&self, reason: crate::conns::Refusal) {
        self.connections_refused
            .get_or_create(&Reason {
                reason: reason.label(),
            })
            .inc();
    }

    /// An accept on `listener` failed.
    pub(crate) fn accept_failed(&self, listener: &'static str, kind: &'static str) {
        self.accept_errors
            .get_or_create(&AcceptError { listener, kind })
            .inc();
    }

    pub(crate) fn rejected(&self, reason: &'static str) {
        self.rejections.get_or_create(&Reason { reason }).inc();
    }

    pub(crate) fn queue_waited(&self, took: Duration) {
        self.queue_wait.observe(took.as_secs_f64());
    }

    pub(crate) fn session_ended(&self, age: Duration) {
        self.session_age.observe(age.as_secs_f64());
    }

    pub(crate) fn expired(&self, n: usize) {
        self.expiries.inc_by(n as u64);
    }

    pub(crate) fn evicted(&self) {
        self.evictions.inc();
    }

    pub(crate) fn set_capacity(&self, resource: &'static str, ratio: f64) {
        self.capacity
            .get_or_create(&Resource { resource })
            .set(ratio);
    }

    /// The text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The outcome label of a handler's result.
pub(crate) fn outcome(
    r: &Result<serde_json::Value, switchboard_runtime::HandlerError>,
) -> &'static str {
    use switchboard_runtime::HandlerError;
    match r {
        Ok(v) if v.get("isError") == Some(&serde_json::Value::Bool(true)) => "tool_error",
        Ok(_) => "ok",
        Err(HandlerError::Cancelled) => "cancelled",
        Err(HandlerError::InputRequired) => "input_required",
        Err(HandlerError::StartTask) => "task",
        Err(HandlerError::Rpc(_) | HandlerError::MissingCapability(_)) => "error",
    }
}

/// The JSON-RPC error code of a failed handler, for the access line.
pub(crate) fn code(
    r: &Result<serde_json::Value, switchboard_runtime::HandlerError>,
) -> Option<i64> {
    use switchboard_runtime::HandlerError;
    match r {
        Err(HandlerError::Rpc(e)) => Some(e.code.0.into()),
        Err(HandlerError::MissingCapability(_)) => {
            Some(switchboard_proto::ErrorCode::INVALID_PARAMS.0.into())
        }
        _ => None,
    }
}

/// The tool a `tools/call` names, if it exists — the catalog's own or one
/// an upstream listed (so the label set stays the listed tools'), for
/// metrics and the audit line. A name with JSON escapes is not looked up.
pub(crate) fn tool_of<'p>(
    catalog: &switchboard_runtime::Catalog,
    method: &str,
    params: Option<&'p serde_json::value::RawValue>,
) -> Option<&'p str> {
    #[derive(serde::Deserialize)]
    struct Name<'n> {
        name: &'n str,
    }
    if method != switchboard_proto::methods::TOOLS_CALL {
        return None;
    }
    let name: Name<'p> = serde_json::from_str(params?.get()).ok()?;
    catalog.knows_tool(name.name).then_some(name.name)
}

/// Methods are labelled from a closed set; anything else is `other`.
fn known_method(method: &str) -> &'static str {
    use switchboard_proto::methods::*;
    const KNOWN: [&str; 9] = [
        TOOLS_LIST,
        TOOLS_CALL,
        RESOURCES_LIST,
        RESOURCES_TEMPLATES_LIST,
        RESOURCES_READ,
        PROMPTS_LIST,
        PROMPTS_GET,
        COMPLETION_COMPLETE,
        "server/discover",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

/// Counts open streams: +1 when made, -1 when dropped.
#[derive(Debug)]
pub(crate) struct StreamGauge(Gauge<i64, AtomicI64>);

impl StreamGauge {
    pub(crate) fn new(g: &Gauge<i64, AtomicI64>) -> Self {
        g.inc();
        Self(g.clone())
    }
}

impl Drop for StreamGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}
