//! Tenants: requests, latency and refusals of each configured tenant, and
//! the sessions and streams it holds.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::metrics::build::{latency, registered};
use crate::metrics::handles::Handles;

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
struct TenantPattern {
    tenant: String,
    pattern: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HookDecision {
    hook: String,
    stage: &'static str,
    decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantRule {
    tenant: String,
    rule: String,
}

/// The tenant families (tenants come from the configuration, so the label
/// set is closed).
#[derive(Debug)]
pub struct Tenants {
    requests: Family<TenantOutcome, Counter>,
    latency: Family<TenantLabel, Histogram, fn() -> Histogram>,
    rejections: Family<TenantReason, Counter>,
    sessions: Family<TenantLabel, Gauge>,
    streams: Family<TenantLabel, Gauge>,
    policy_refusals: Family<TenantRule, Counter>,
    redactions: Family<TenantPattern, Counter>,
    hooks: Family<HookDecision, Counter>,
    /// Each tenant's per-request metrics, kept ([`Handles`]).
    kept: Handles<String, Kept>,
}

/// Kept handles to one tenant's per-request metrics.
#[derive(Debug)]
struct Kept {
    latency: Histogram,
    requests: Handles<&'static str, Counter>,
}

impl Tenants {
    pub(crate) fn register(r: &mut Registry) -> Self {
        Self {
            kept: Handles::default(),
            requests: registered(
                r,
                "tenant_requests",
                "Requests by tenant and outcome (tenants come from the configuration)",
                Family::default(),
            ),
            latency: registered(
                r,
                "tenant_request_duration_seconds",
                "Request latency by tenant",
                Family::new_with_constructor(latency),
            ),
            rejections: registered(
                r,
                "tenant_rejections",
                "Refused requests by tenant and reason (rate_limited, quota, forbidden, queue_full, tenant_share, queue_timeout, shed)",
                Family::default(),
            ),
            sessions: registered(
                r,
                "tenant_sessions",
                "Sessions held by tenant",
                Family::default(),
            ),
            streams: registered(
                r,
                "tenant_streams",
                "Open standalone SSE streams by tenant",
                Family::default(),
            ),
            policy_refusals: registered(
                r,
                "policy_refusals",
                "Calls, reads and prompts refused by a [[policies]] rule, by tenant and rule (both from the configuration)",
                Family::default(),
            ),
            redactions: registered(
                r,
                "redactions",
                "Results of calls, reads and prompts with secrets masked, by tenant and pattern (built-in or from [redact])",
                Family::default(),
            ),
            hooks: registered(
                r,
                "guardrail_decisions",
                "Guardrail hooks' decisions by hook, stage (before, after) and decision (allow, deny, modify, failed_open, failed_closed)",
                Family::default(),
            ),
        }
    }

    /// A finished request of `tenant`.
    pub fn finished(&self, tenant: &str, outcome: &'static str, took: Duration) {
        let make = || {
            let label = TenantLabel {
                tenant: tenant.to_owned(),
            };
            let kept = Kept {
                latency: self.latency.get_or_create(&label).clone(),
                requests: Handles::default(),
            };
            (label.tenant, kept)
        };
        self.kept.with(tenant, make, |kept| {
            kept.latency.observe(took.as_secs_f64());
            let make = || {
                let label = TenantOutcome {
                    tenant: tenant.to_owned(),
                    outcome,
                };
                (outcome, self.requests.get_or_create(&label).clone())
            };
            kept.requests.with(outcome, make, Counter::inc);
        });
    }

    /// A refused request of `tenant`.
    pub fn rejected(&self, tenant: &str, reason: &'static str) {
        self.rejections
            .get_or_create(&TenantReason {
                tenant: tenant.to_owned(),
                reason,
            })
            .inc();
    }

    /// A request of `tenant` refused by the policy `rule`.
    pub fn policy_refused(&self, tenant: &str, rule: &str) {
        self.policy_refusals
            .get_or_create(&TenantRule {
                tenant: tenant.to_owned(),
                rule: rule.to_owned(),
            })
            .inc();
    }

    /// A result for `tenant` had what `pattern` matches masked.
    pub fn redacted(&self, tenant: &str, pattern: &str) {
        self.redactions
            .get_or_create(&TenantPattern {
                tenant: tenant.to_owned(),
                pattern: pattern.to_owned(),
            })
            .inc();
    }

    /// The guardrail `hook` decided at `stage`.
    pub fn hook_decided(&self, hook: &str, stage: &'static str, decision: &'static str) {
        self.hooks
            .get_or_create(&HookDecision {
                hook: hook.to_owned(),
                stage,
                decision,
            })
            .inc();
    }

    /// The gauge of `tenant`'s sessions.
    pub fn sessions(&self, tenant: &str) -> Gauge {
        self.sessions
            .get_or_create(&TenantLabel {
                tenant: tenant.to_owned(),
            })
            .clone()
    }

    /// The gauge of `tenant`'s open standalone streams.
    pub fn streams(&self, tenant: &str) -> Gauge {
        self.streams
            .get_or_create(&TenantLabel {
                tenant: tenant.to_owned(),
            })
            .clone()
    }
}
