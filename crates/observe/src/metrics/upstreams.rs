//! Upstreams: the processes each runs, its circuit breaker, its calls and
//! failures (from the providers' health, at each scrape), and the waits,
//! latencies and errors the providers report as they happen.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use switchboard_runtime::{Provider, ProviderHealth, TokenEvent, UpstreamObserver};

use crate::metrics::build::{latency, registered};
use crate::metrics::labels::known_method;

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
struct UpstreamOutcome {
    upstream: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolChange {
    upstream: String,
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamError {
    upstream: String,
    method: &'static str,
    reason: &'static str,
}

/// The states of a circuit breaker, one series each.
const BREAKER_STATES: [&str; 3] = ["closed", "open", "half_open"];

/// The upstream families.
#[derive(Debug)]
pub struct Upstreams {
    processes: Family<Upstream, Gauge>,
    breaker: Family<UpstreamState, Gauge>,
    calls: Family<Upstream, Counter>,
    failures: Family<Upstream, Counter>,
    starting: Family<Upstream, Gauge>,
    idle: Family<Upstream, Gauge>,
    restarts: Family<Upstream, Counter>,
    kills: Family<Upstream, Counter>,
    sink: UpstreamSink,
    /// Last seen call, failure, restart and kill totals of each upstream
    /// (counters move by the difference).
    seen: Mutex<HashMap<String, [u64; 4]>>,
}

/// Where the providers report their waits, latencies and errors: the
/// families' handles (a family is shared by its clones).
#[derive(Debug, Clone)]
pub struct UpstreamSink {
    pool_wait: Family<Upstream, Histogram, fn() -> Histogram>,
    latency: Family<UpstreamMethod, Histogram, fn() -> Histogram>,
    errors: Family<UpstreamError, Counter>,
    tokens: Family<UpstreamOutcome, Counter>,
    tool_changes: Family<ToolChange, Counter>,
}

impl Upstreams {
    pub(crate) fn register(r: &mut Registry) -> Self {
        Self {
            processes: registered(
                r,
                "upstream_processes",
                "Processes each upstream runs now",
                Family::default(),
            ),
            breaker: registered(
                r,
                "upstream_breaker_state",
                "Circuit breaker of each upstream: 1 for its current state",
                Family::default(),
            ),
            calls: registered(
                r,
                "upstream_calls",
                "Calls to each upstream",
                Family::default(),
            ),
            failures: registered(
                r,
                "upstream_failures",
                "Calls that failed for the upstream's reasons (timeouts, crashes, open breaker)",
                Family::default(),
            ),
            starting: registered(
                r,
                "upstream_processes_starting",
                "Processes (or connections) of each upstream being started now",
                Family::default(),
            ),
            idle: registered(
                r,
                "upstream_processes_idle",
                "Live processes of each upstream serving no request now (the warm one included)",
                Family::default(),
            ),
            restarts: registered(
                r,
                "upstream_process_restarts",
                "Processes of each upstream started in place of one that died",
                Family::default(),
            ),
            kills: registered(
                r,
                "upstream_process_kills",
                "Processes of each upstream Switchboard ended (session ended, idle, a warm one giving its slot up)",
                Family::default(),
            ),
            sink: UpstreamSink::register(r),
            seen: Mutex::default(),
        }
    }

    /// Bring the upstream families up to date with the providers' health.
    pub fn update(&self, providers: &[Arc<dyn Provider>]) {
        let mut seen = self.seen.lock();
        for p in providers {
            let h = p.health();
            let label = Upstream {
                upstream: p.name().to_owned(),
            };
            self.set_gauges(&label, &h);
            let last = seen.entry(label.upstream.clone()).or_default();
            let now = [h.calls, h.failures, h.restarts, h.kills];
            let counters = [&self.calls, &self.failures, &self.restarts, &self.kills];
            for (family, (now, last)) in counters.into_iter().zip(now.iter().zip(last.iter())) {
                family
                    .get_or_create(&label)
                    .inc_by(now.saturating_sub(*last));
            }
            *last = now;
        }
    }

    /// The gauges of one upstream: processes, breaker state, starting, idle.
    fn set_gauges(&self, label: &Upstream, h: &ProviderHealth) {
        self.processes.get_or_create(label).set(h.processes as i64);
        for state in BREAKER_STATES {
            self.breaker
                .get_or_create(&UpstreamState {
                    upstream: label.upstream.clone(),
                    state,
                })
                .set(i64::from(state == h.breaker));
        }
        self.starting.get_or_create(label).set(h.starting as i64);
        self.idle.get_or_create(label).set(h.idle as i64);
    }

    /// The upstream `name` was removed (a reload): its gauges go to zero,
    /// and a provider added under the same name counts from its own zero.
    pub fn removed(&self, name: &str) {
        self.seen.lock().remove(name);
        let label = Upstream {
            upstream: name.to_owned(),
        };
        for family in [&self.processes, &self.starting, &self.idle] {
            family.get_or_create(&label).set(0);
        }
    }

    /// The sink providers report waits, latencies and errors to.
    pub fn sink(&self) -> UpstreamSink {
        self.sink.clone()
    }
}

impl UpstreamSink {
    fn register(r: &mut Registry) -> Self {
        Self {
            pool_wait: registered(
                r,
                "upstream_pool_wait_seconds",
                "Time new sessions waited for a process slot of each upstream",
                Family::new_with_constructor(latency),
            ),
            latency: registered(
                r,
                "upstream_request_duration_seconds",
                "Requests to each upstream by method (lists, reads, calls…; others as other), retries and limit waits included",
                Family::new_with_constructor(latency),
            ),
            errors: registered(
                r,
                "upstream_errors",
                "Failed requests to each upstream by method and reason (timeout, exited, unavailable, limited, circuit_open, misbehaving, http, upstream, cancelled, other)",
                Family::default(),
            ),
            tool_changes: registered(
                r,
                "upstream_tool_changes",
                "Tool definitions an upstream presented that are not the approved ones, by upstream, kind (changed, new) and outcome (held, alerted)",
                Family::default(),
            ),
            tokens: registered(
                r,
                "upstream_tokens",
                "Tokens for upstreams from an identity provider by outcome (cached, kept, issued; refused, unavailable, circuit_open, no_client_token)",
                Family::default(),
            ),
        }
    }
}

impl UpstreamObserver for UpstreamSink {
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

    fn pin(&self, event: switchboard_runtime::PinEvent<'_>) {
        self.tool_changes
            .get_or_create(&ToolChange {
                upstream: event.upstream.to_owned(),
                kind: event.kind,
                outcome: event.outcome,
            })
            .inc();
    }

    fn token(&self, event: TokenEvent<'_>) {
        self.tokens
            .get_or_create(&UpstreamOutcome {
                upstream: event.upstream.to_owned(),
                outcome: event.outcome,
            })
            .inc();
    }
}
