//! What the gate counts and records: a finished request (metrics, and an
//! audit line for a tool call), a security event (logged and audited), and
//! the quota refusals of streams, listen streams and sessions.

use switchboard_http::error::TransportError;
use switchboard_observe::audit::AuditEvent;
use switchboard_store::Quota;

use super::Gate;
use crate::capacity::{Held, listen_key, tenant_key};
use crate::tenant::Principal;

impl Gate {
    /// A finished request: metrics by method and by tenant, and an audit
    /// line for a tool call.
    pub fn finished(
        &self,
        who: &Principal,
        session: Option<&str>,
        method: &str,
        tool: Option<&str>,
        outcome: &'static str,
        took: std::time::Duration,
    ) {
        let metrics = self.metrics();
        metrics.requests.finished(method, tool, outcome, took);
        metrics.tenants.finished(&who.tenant.id, outcome, took);
        if method == switchboard_proto::methods::TOOLS_CALL && self.audit().enabled() {
            let short = session.map(switchboard_observe::ids::short);
            self.audit().record(&AuditEvent {
                event: "tool_call",
                tenant: Some(&who.tenant.id),
                principal: Some(&who.subject),
                session: short,
                method: Some(method),
                tool,
                outcome,
                latency_ms: Some(took.as_secs_f64() * 1000.0),
                remote: Some(&who.addr),
                ..AuditEvent::default()
            });
        }
    }

    /// Room for one more standalone stream of the principal's tenant: the
    /// gauge that counts it while it is open, or 429.
    pub fn stream_quota(
        &self,
        who: &Principal,
        session: Option<&str>,
    ) -> Result<prometheus_client::metrics::gauge::Gauge, TransportError> {
        let gauge = self.metrics().tenants.streams(&who.tenant.id);
        if let Some(max) = who.tenant.max_streams
            && gauge.get() >= max as i64
        {
            self.metrics().tenants.rejected(&who.tenant.id, "quota");
            self.security_event(who, session, "quota", None, "max_streams");
            return Err(TransportError::Quota("max_streams"));
        }
        Ok(gauge)
    }

    /// Record a security event: counted, logged and audited.
    pub fn security_event(
        &self,
        who: &Principal,
        session: Option<&str>,
        event: &str,
        tool: Option<&str>,
        outcome: &str,
    ) {
        let short = session.map(switchboard_observe::ids::short);
        tracing::info!(
            tenant = %who.tenant.id,
            principal = %who.subject,
            session = short.unwrap_or("-"),
            event,
            outcome,
            "security event"
        );
        self.audit().record(&AuditEvent {
            event,
            tenant: Some(&who.tenant.id),
            principal: Some(&who.subject),
            session: short,
            tool,
            outcome,
            remote: Some(&who.addr),
            ..AuditEvent::default()
        });
    }

    /// The refusal of a session over `quota` (one of
    /// [`crate::capacity::session_quotas`]), counted and, for a tenant's
    /// quota, audited.
    pub fn refuse_quota(&self, who: &Principal, quota: &Quota) -> TransportError {
        if quota.group != tenant_key(&who.tenant.id) {
            self.metrics().requests.rejected("per_identity_cap");
            return TransportError::SessionCap("per_identity_cap");
        }
        self.metrics().tenants.rejected(&who.tenant.id, "quota");
        self.security_event(who, None, "quota", None, "max_sessions");
        TransportError::Quota("max_sessions")
    }

    /// The refusal of a session record that would pass its identity's
    /// byte budget (`max_session_bytes_per_identity`): 429, as a quota.
    pub fn refuse_bytes(&self) -> TransportError {
        self.metrics().requests.rejected("per_identity_bytes");
        TransportError::Quota("max_session_bytes_per_identity")
    }

    /// Count one more `subscriptions/listen` stream of `identity`, or 429
    /// past `max_sessions_per_identity` (a listen stream is a stateless
    /// client's lasting presence, as a session is for the session eras).
    pub fn hold_listen_stream(&self, identity: &str) -> Result<Held, TransportError> {
        let key = listen_key(identity);
        let max = self.0.config.load().max_sessions_per_identity;
        if self.capacity().count(&key) >= max {
            self.metrics().requests.rejected("stream_cap");
            return Err(TransportError::StreamCap(max));
        }
        Ok(self.capacity().hold(key))
    }
}

/// Where the catalog reports what policies decided: refusals counted per
/// tenant and rule, logged and audited (`policy_denied`); redactions
/// counted per tenant and pattern and audited (`redacted`). Holds the gate
/// weakly: the gate holds the catalog.
#[derive(Debug)]
pub(super) struct Decisions(pub(super) std::sync::Weak<super::Inner>);

/// The audit line of a decision on `caller`'s `method` of `name`.
fn decided(
    audit: &switchboard_observe::audit::Audit,
    caller: &switchboard_runtime::Caller,
    what: (&str, &str, &str),
    outcome: &str,
    detail: &str,
) {
    let (event, method, name) = what;
    audit.record(&AuditEvent {
        event,
        tenant: Some(&caller.tenant),
        principal: Some(&caller.subject),
        session: caller
            .session
            .as_deref()
            .map(switchboard_observe::ids::short),
        method: Some(method),
        tool: Some(name),
        outcome,
        detail: Some(detail),
        ..AuditEvent::default()
    });
}

impl switchboard_runtime::DecisionObserver for Decisions {
    fn refused(
        &self,
        request: &switchboard_runtime::Judged<'_>,
        refusal: &switchboard_runtime::Refusal,
    ) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        let caller = request.caller;
        inner
            .metrics
            .tenants
            .policy_refused(&caller.tenant, &refusal.rule);
        let short = caller
            .session
            .as_deref()
            .map(switchboard_observe::ids::short);
        tracing::info!(
            tenant = %caller.tenant,
            principal = %caller.subject,
            session = short.unwrap_or("-"),
            method = request.method,
            name = request.name,
            rule = %refusal.rule,
            "refused by policy"
        );
        let detail = format!("{}: {}", refusal.rule, refusal.reason);
        let what = ("policy_denied", request.method, request.name);
        decided(&inner.audit, caller, what, "denied", &detail);
    }

    fn redacted(
        &self,
        caller: &switchboard_runtime::Caller,
        method: &str,
        name: &str,
        patterns: &[std::sync::Arc<str>],
    ) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        for p in patterns {
            inner.metrics.tenants.redacted(&caller.tenant, p);
        }
        let detail = patterns.iter().map(|p| &**p).collect::<Vec<_>>().join(",");
        decided(
            &inner.audit,
            caller,
            ("redacted", method, name),
            "redacted",
            &detail,
        );
    }

    fn hook(
        &self,
        caller: &switchboard_runtime::Caller,
        tool: &str,
        hook: &str,
        stage: switchboard_runtime::Stage,
        decision: &'static str,
    ) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        inner
            .metrics
            .tenants
            .hook_decided(hook, stage.as_str(), decision);
        // Allowing is the usual case: counted, not audited.
        if decision == "allow" {
            return;
        }
        let detail = format!("{hook} {}", stage.as_str());
        decided(
            &inner.audit,
            caller,
            ("guardrail", "tools/call", tool),
            decision,
            &detail,
        );
    }
}
