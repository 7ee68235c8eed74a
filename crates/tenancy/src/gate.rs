//! The gate every request passes: authentication, then (for requests that
//! do work) scopes, rate limits and the tenant's share of admission; the
//! quotas of streams and sessions. Every refusal is counted per tenant and
//! written to the audit trail.

use std::sync::Arc;

use http::HeaderMap;
use switchboard_config::{Config, Live};
use switchboard_http::error::{Challenge, TransportError};
use switchboard_limits::{Admission, Arrivals, Decision, Delay, Permit, Rate, RateLimiter, Ticket};
use switchboard_observe::audit::{Audit, AuditEvent};
use switchboard_observe::metrics::Metrics;
use switchboard_runtime::Catalog;

use crate::capacity::Capacity;
use crate::tenant::Principal;
use crate::tenants::{AuthFailure, Tenants};
use switchboard_oauth::dpop::DpopError;

mod account;
mod arrival;

/// The gate: tenants and credentials (swapped whole by a reload), the rate
/// limiter, admission, the node-local quota counts, the audit trail and
/// the metrics its refusals are counted in. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Gate(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: Live<Config>,
    tenants: Live<Tenants>,
    catalog: Arc<Catalog>,
    metrics: Arc<Metrics>,
    audit: Audit,
    limiter: Arc<dyn RateLimiter>,
    admission: Admission,
    arrivals: Arrivals,
    delay: Delay,
    capacity: Capacity,
    /// Switchboard's own authorization server, if `[oauth]` is on: its
    /// tokens are checked by it.
    oauth: std::sync::OnceLock<Arc<switchboard_oauth::AuthorizationServer>>,
}

impl Gate {
    /// A gate over `tenants` for the configuration in `config` (admission
    /// sized by its `max_in_flight` and `max_queue`), calls to `catalog`'s
    /// tools (whose policy refusals it counts and audits), rates kept by `limiter`, refusals counted in `metrics` and
    /// audited to `audit`.
    pub fn new(
        config: Live<Config>,
        tenants: Tenants,
        catalog: Arc<Catalog>,
        metrics: Arc<Metrics>,
        audit: Audit,
        limiter: Arc<dyn RateLimiter>,
    ) -> Self {
        let c = config.load();
        let admission = Admission::new(c.max_in_flight, c.max_queue);
        let probed = config.clone();
        let delay = Delay::start(move || probed.load().shed_delay_ms > 0);
        let gate = Self(Arc::new(Inner {
            config,
            tenants: Live::new(tenants),
            catalog,
            metrics,
            audit,
            limiter,
            admission,
            arrivals: Arrivals::new(),
            delay,
            capacity: Capacity::default(),
            oauth: std::sync::OnceLock::new(),
        }));
        gate.0
            .catalog
            .observe_decisions(Arc::new(account::Decisions(Arc::downgrade(&gate.0))));
        gate
    }

    /// Check the tokens of Switchboard's own authorization server with it
    /// (set once, when the server is built).
    pub fn set_oauth(&self, server: Arc<switchboard_oauth::AuthorizationServer>) {
        if self.0.oauth.set(server).is_err() {
            tracing::warn!("the authorization server was set twice; the first is kept");
        }
    }

    /// Tenants and credentials in effect now (a reload may replace them).
    pub fn tenants(&self) -> Arc<Tenants> {
        self.0.tenants.load()
    }

    /// The handle of the tenants in effect, which a reload swaps.
    pub fn live_tenants(&self) -> &Live<Tenants> {
        &self.0.tenants
    }

    /// Admission: running slots and the queue, by tenant.
    pub fn admission(&self) -> &Admission {
        &self.0.admission
    }

    /// The requests in hand, counted from their arrival.
    pub fn arrivals(&self) -> &Arrivals {
        &self.0.arrivals
    }

    /// The rate limiter.
    pub fn limiter(&self) -> &dyn RateLimiter {
        &*self.0.limiter
    }

    /// The node-local quota counts.
    pub fn capacity(&self) -> &Capacity {
        &self.0.capacity
    }

    /// The audit trail.
    pub fn audit(&self) -> &Audit {
        &self.0.audit
    }

    fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// Who sends this request; 401/400/503 with a `WWW-Authenticate`
    /// challenge when that cannot be established.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        addr: &str,
    ) -> Result<Principal, TransportError> {
        self.authenticate_at(headers, addr, None, None).await
    }

    /// Who sends this request to `server`'s endpoint (`None`: `/mcp`): as
    /// [`Gate::authenticate`], the challenges naming that endpoint's
    /// metadata; a tenant the server does not admit gets 403.
    pub async fn authenticate_at(
        &self,
        headers: &HeaderMap,
        addr: &str,
        server: Option<&Arc<crate::servers::VirtualServer>>,
        request: Option<(&str, &str)>,
    ) -> Result<Principal, TransportError> {
        let tenants = self.tenants();
        let own = self.0.oauth.get().map(|o| {
            let resource = tenants.resource_url_of(headers, server.map(|s| &**s));
            (o.clone(), resource)
        });
        let own = own.as_ref().map(|(o, r)| crate::tenants::Own {
            server: o,
            resource: r,
            request,
        });
        let failure = match tenants.authenticate(headers, addr, own).await {
            Ok(mut p) => {
                if let Some(server) = server {
                    if !server.admits(&p.tenant.id) {
                        self.security_event(&p, None, "forbidden_server", None, "denied");
                        return Err(TransportError::ForbiddenServer(server.name.to_string()));
                    }
                    p.server = Some(server.clone());
                }
                // Only a 403 for a missing scope names the metadata URL.
                if !p.tenant.policy.tool_scopes.is_empty() {
                    p.metadata_url = tenants
                        .metadata_url_of(headers, server.map(|s| &**s))
                        .into();
                }
                return Ok(p);
            }
            Err(f) => f,
        };
        self.metrics().requests.rejected("unauthenticated");
        if failure != AuthFailure::Missing {
            self.audit().record(&AuditEvent {
                event: "auth_failure",
                outcome: failure.kind(),
                remote: Some(addr),
                ..AuditEvent::default()
            });
            tracing::info!(
                remote = addr,
                reason = failure.kind(),
                "authentication failed"
            );
        }
        let mut challenge = Challenge {
            resource_metadata: tenants.metadata_url_of(headers, server.map(|s| &**s)),
            ..Challenge::default()
        };
        Err(match failure {
            AuthFailure::Missing => TransportError::Unauthenticated(challenge),
            AuthFailure::Invalid(why) => {
                challenge.error = Some("invalid_token");
                challenge.description = Some(why);
                TransportError::Unauthenticated(challenge)
            }
            AuthFailure::Malformed(why) => {
                challenge.error = Some("invalid_request");
                challenge.description = Some(why);
                TransportError::BadCredentials(challenge)
            }
            AuthFailure::Unavailable(why) => TransportError::AuthUnavailable(why),
            AuthFailure::Dpop(e) => {
                challenge.dpop = true;
                match e {
                    DpopError::Invalid(why) => {
                        challenge.error = Some("invalid_dpop_proof");
                        challenge.description = Some(why);
                    }
                    DpopError::UseNonce(nonce) => {
                        challenge.error = Some("use_dpop_nonce");
                        challenge.description = Some("retry with the DPoP-Nonce given".into());
                        challenge.dpop_nonce = Some(nonce.into());
                    }
                }
                TransportError::Unauthenticated(challenge)
            }
        })
    }

    /// 403 `insufficient_scope` if `tool` needs scopes the principal lacks.
    pub fn check_scopes(
        &self,
        who: &Principal,
        session: Option<&str>,
        tool: &str,
    ) -> Result<(), TransportError> {
        let missing = who.missing_scopes(tool);
        if missing.is_empty() {
            return Ok(());
        }
        self.security_event(
            who,
            session,
            "forbidden_tool",
            Some(tool),
            "insufficient_scope",
        );
        let needed = who.tenant.policy.scopes_for(tool).join(" ");
        Err(TransportError::InsufficientScope(Challenge {
            resource_metadata: who.metadata_url.to_string(),
            error: Some("insufficient_scope"),
            description: Some(format!("calling {tool} needs the scopes: {needed}")),
            scope: Some(needed),
            ..Challenge::default()
        }))
    }

    /// Take one token from each rate that applies: the tenant's, the
    /// session's (`key`), and the tool's. 429 names the first one hit.
    pub async fn check_rates(
        &self,
        who: &Principal,
        session: Option<&str>,
        key: &str,
        tool: Option<&str>,
    ) -> Result<(), TransportError> {
        let t = &who.tenant;
        let tool_rate = tool.and_then(|name| Some((name, t.tool_rate(name)?)));
        // Narrowest first, so a session over its own rate does not use up
        // its tenant's tokens.
        let checks: [(&'static str, Option<(String, Rate)>); 3] = [
            (
                "session",
                t.session_rate.map(|r| (format!("s:{}:{key}", t.id), r)),
            ),
            (
                "tool",
                tool_rate.map(|(name, r)| (format!("tt:{}:{name}", t.id), r)),
            ),
            ("tenant", t.rate.map(|r| (format!("t:{}", t.id), r))),
        ];
        for (limit, check) in checks {
            let Some((bucket, rate)) = check else {
                continue;
            };
            let decision = self
                .limiter()
                .check(&bucket, rate)
                .await
                .map_err(|e| TransportError::LimiterUnavailable(e.to_string()))?;
            if let Decision::Limited { retry_after } = decision {
                self.metrics().tenants.rejected(&t.id, "rate_limited");
                self.security_event(who, session, "rate_limited", tool, limit);
                return Err(TransportError::RateLimited { limit, retry_after });
            }
        }
        Ok(())
    }

    /// Everything a request that does work passes before it runs: for a
    /// tool call, the tool's scopes; then the rate limits; then admission.
    /// A call to a tool the tenant may not use passes on to the catalog,
    /// which answers it exactly like an unknown tool.
    /// `key` names the caller's rate bucket and place in its tenant's queue:
    /// the session, or a stateless client's identity. `named` is what the
    /// request names, as [`switchboard_proto::params::named`] reads it (the
    /// front reads it once, for the access record, this and the metrics).
    pub async fn pass(
        &self,
        who: &Principal,
        session: Option<&str>,
        key: &str,
        method: &str,
        named: Option<&str>,
    ) -> Result<Permit, TransportError> {
        let mut tool = None;
        let called = known_tool(&self.0.catalog, method, named, who.server.as_deref());
        if let Some(name) = called.as_deref() {
            if switchboard_runtime::Access::tool(&*who.tenant.policy, name) {
                self.check_scopes(who, session, name)?;
                tool = Some(name);
            } else {
                self.metrics().tenants.rejected(&who.tenant.id, "forbidden");
                self.security_event(who, session, "forbidden_tool", Some(name), "denied");
            }
        }
        self.check_rates(who, session, key, tool).await?;
        self.admit(who, key).await
    }

    /// Wait for a running slot for the principal's tenant (weighted, within
    /// its own cap), as `key` (a session or a stateless client).
    pub async fn admit(&self, who: &Principal, key: &str) -> Result<Permit, TransportError> {
        let start = std::time::Instant::now();
        let t = &who.tenant;
        let ticket = ticket(who, key);
        let span = tracing::debug_span!(target: switchboard_telemetry::TARGET, "admission", tenant = %t.id);
        let admitted = tracing::Instrument::instrument(
            self.admission()
                .admit(ticket, self.0.config.load().queue_deadline()),
            span,
        )
        .await;
        self.metrics().requests.queue_waited(start.elapsed());
        admitted.map_err(|rejected| {
            self.metrics().requests.rejected(rejected.reason());
            self.metrics().tenants.rejected(&t.id, rejected.reason());
            TransportError::Overloaded(rejected)
        })
    }
}

/// The admission ticket of the principal's tenant, as `key`.
fn ticket<'a>(who: &'a Principal, key: &'a str) -> Ticket<'a> {
    let t = &who.tenant;
    Ticket {
        tenant: &t.id,
        weight: t.weight,
        max_running: t.max_in_flight,
        max_queued: t.max_queued,
        key,
    }
}

/// The tool a `tools/call` names, if it exists: the catalog's own, or one
/// an upstream listed (so scopes and tool rates hold for upstream tools
/// too, and a made-up name never becomes a rate bucket). `named` comes from
/// the one reader the catalog uses: params it refuses name no tool here and
/// are refused there. On a virtual server, a tool its clients see under
/// another name is its own (its scopes and rates hold).
fn known_tool(
    catalog: &switchboard_runtime::Catalog,
    method: &str,
    named: Option<&str>,
    server: Option<&crate::servers::VirtualServer>,
) -> Option<String> {
    if method != switchboard_proto::methods::TOOLS_CALL {
        return None;
    }
    let name = match server {
        Some(s) => s.original_tool(named?)?,
        None => named?,
    };
    catalog.knows_tool(name).then(|| name.to_owned())
}
