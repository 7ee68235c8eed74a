//! Requests: how many by method and outcome, their latency (and each
//! tool's), admission (running, waiting, the wait) and refusals by reason.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::metrics::build::{latency, registered};
use crate::metrics::handles::Handles;
use crate::metrics::labels::known_method;

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
pub(crate) struct Reason {
    pub(crate) reason: &'static str,
}

/// Every rejection reason exists from the start, so rates and alerts see a
/// zero rather than no series.
const REJECTIONS: [&str; 10] = [
    "session_cap",
    "per_identity_cap",
    "queue_full",
    "tenant_share",
    "queue_timeout",
    "shed",
    "crowded",
    "timeout",
    "stream_cap",
    "draining",
];

/// The request families.
#[derive(Debug)]
pub struct Requests {
    count: Family<MethodOutcome, Counter>,
    latency: Family<Method, Histogram, fn() -> Histogram>,
    tool_latency: Family<Tool, Histogram, fn() -> Histogram>,
    /// `queue_depth`: requests waiting for a running slot.
    pub queue_depth: Gauge,
    /// `in_flight`: requests running.
    pub in_flight: Gauge,
    /// `in_hand`: requests counted from their arrival until their answer
    /// is decided (those the arrival cap counts).
    pub in_hand: Gauge,
    queue_wait: Histogram,
    rejections: Family<Reason, Counter>,
    /// The metrics every request updates, kept ([`Handles`]).
    kept: Kept,
}

/// Kept handles to [`Requests`]' per-call metrics.
#[derive(Debug, Default)]
struct Kept {
    count: Handles<(&'static str, &'static str), Counter>,
    latency: Handles<&'static str, Histogram>,
    tool_latency: Handles<String, Histogram>,
}

impl Requests {
    pub(crate) fn register(r: &mut Registry) -> Self {
        let requests = Self {
            count: registered(
                r,
                "requests",
                "Requests by method and outcome",
                Family::default(),
            ),
            latency: registered(
                r,
                "request_duration_seconds",
                "Request latency by method",
                Family::new_with_constructor(latency),
            ),
            tool_latency: registered(
                r,
                "tool_call_duration_seconds",
                "tools/call latency by tool",
                Family::new_with_constructor(latency),
            ),
            queue_depth: registered(
                r,
                "queue_depth",
                "Requests waiting for a running slot",
                Gauge::default(),
            ),
            in_flight: registered(r, "in_flight", "Requests running", Gauge::default()),
            in_hand: registered(
                r,
                "in_hand",
                "Requests from their arrival until their answer is decided",
                Gauge::default(),
            ),
            queue_wait: registered(
                r,
                "queue_wait_seconds",
                "Time requests waited for a running slot",
                latency(),
            ),
            rejections: registered(
                r,
                "rejections",
                "Refused requests and sessions by reason",
                Family::default(),
            ),
            kept: Kept::default(),
        };
        for reason in REJECTIONS {
            let _ = requests.rejections.get_or_create(&Reason { reason });
        }
        requests
    }

    /// A finished request: its method (from the closed set we serve), the
    /// tool if known to the catalog, the outcome and how long it took.
    pub fn finished(
        &self,
        method: &str,
        tool: Option<&str>,
        outcome: &'static str,
        took: Duration,
    ) {
        let method = known_method(method);
        let secs = took.as_secs_f64();
        let (count, latency) = (&self.count, &self.latency);
        self.kept.count.with(
            &(method, outcome),
            || {
                let label = MethodOutcome { method, outcome };
                ((method, outcome), count.get_or_create(&label).clone())
            },
            Counter::inc,
        );
        self.kept.latency.with(
            method,
            || (method, latency.get_or_create(&Method { method }).clone()),
            |h| h.observe(secs),
        );
        if let Some(tool) = tool {
            let family = &self.tool_latency;
            self.kept.tool_latency.with(
                tool,
                || {
                    let label = Tool {
                        tool: tool.to_owned(),
                    };
                    (label.tool.clone(), family.get_or_create(&label).clone())
                },
                |h| h.observe(secs),
            );
        }
    }

    /// A request or session refused, for `reason` (`session_cap`,
    /// `queue_full`, `draining`, …).
    pub fn rejected(&self, reason: &'static str) {
        self.rejections.get_or_create(&Reason { reason }).inc();
    }

    /// A request waited this long for a running slot.
    pub fn queue_waited(&self, took: Duration) {
        self.queue_wait.observe(took.as_secs_f64());
    }
}
