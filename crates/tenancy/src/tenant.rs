//! One tenant compiled from its configuration, and the principal a request
//! comes from: which tenant, which subject, proven how.

use std::sync::Arc;

use switchboard_config::{ANONYMOUS, PolicyRule, RateConfig, Redactor, TenantConfig, glob};
use switchboard_limits::Rate;
use switchboard_runtime::Caller;

use crate::policy::Policy;

/// What judges and redacts every tenant's requests (`[[policies]]`, of
/// which each tenant keeps those naming it, and `[redact]`).
#[derive(Debug, Default)]
pub(crate) struct Judging {
    pub(crate) rules: Vec<PolicyRule>,
    pub(crate) redactor: Option<Arc<Redactor>>,
    pub(crate) hooks: Vec<Arc<crate::hooks::Hook>>,
}

/// One tenant, compiled from its configuration.
#[derive(Debug)]
pub struct Tenant {
    /// The tenant's id (`[[tenants]] id`).
    pub id: Arc<str>,
    /// Its display name (the id when none is configured).
    pub name: String,
    /// What it may see and use.
    pub policy: Arc<Policy>,
    /// Its weight in admission (at least 1).
    pub weight: u32,
    /// The rate of the tenant's requests, if limited.
    pub rate: Option<Rate>,
    /// The rate of each of its sessions' requests, if limited.
    pub session_rate: Option<Rate>,
    tool_rates: Vec<(String, Rate)>,
    /// Sessions it may hold at once.
    pub max_sessions: Option<usize>,
    /// Requests it may run at once.
    pub max_in_flight: Option<usize>,
    /// Standalone streams it may hold open at once.
    pub max_streams: Option<usize>,
    /// Upstream processes it may hold at once.
    pub max_upstream_processes: Option<usize>,
    /// Its share of the admission queue (by weight), when tenants share it.
    pub max_queued: Option<usize>,
    /// Whether only DPoP-bound tokens are accepted.
    pub require_dpop: bool,
}

fn rate(r: &RateConfig) -> Option<Rate> {
    Rate::new(r.per_second, r.burst)
}

impl Tenant {
    pub(crate) fn new(
        c: &TenantConfig,
        queue_share: Option<(usize, u32)>,
        judging: &Judging,
    ) -> Self {
        Self {
            max_queued: queue_share.map(|(queue, total)| {
                (queue * c.weight.max(1) as usize / total.max(1) as usize).max(1)
            }),
            id: Arc::from(c.id.as_str()),
            name: c.name.clone().unwrap_or_else(|| c.id.clone()),
            policy: Arc::new(Policy {
                tools: c.tools.clone(),
                resources: c.resources.clone(),
                prompts: c.prompts.clone(),
                tool_scopes: c.tool_scopes.clone(),
                rules: judging
                    .rules
                    .iter()
                    .filter(|r| r.covers_tenant(&c.id))
                    .cloned()
                    .collect(),
                redactor: judging.redactor.clone(),
                hooks: judging
                    .hooks
                    .iter()
                    .filter(|h| h.covers_tenant(&c.id))
                    .cloned()
                    .collect(),
            }),
            weight: c.weight.max(1),
            rate: c.rate.as_ref().and_then(rate),
            session_rate: c.session_rate.as_ref().and_then(rate),
            tool_rates: c
                .tool_rates
                .iter()
                .filter_map(|(p, r)| Some((p.clone(), rate(r)?)))
                .collect(),
            max_sessions: c.max_sessions,
            max_in_flight: c.max_in_flight,
            max_streams: c.max_streams,
            max_upstream_processes: c.max_upstream_processes,
            require_dpop: c.require_dpop,
        }
    }

    pub(crate) fn anonymous_default(queue_share: Option<(usize, u32)>, judging: &Judging) -> Self {
        let config = TenantConfig {
            id: ANONYMOUS.to_owned(),
            ..TenantConfig::default()
        };
        Self::new(&config, queue_share, judging)
    }

    /// What the tenant's callers may see and use at `server`'s endpoint
    /// (`None`: `/mcp`): its policy, narrowed to the server's set.
    pub fn access_at(
        &self,
        server: Option<&Arc<crate::servers::VirtualServer>>,
    ) -> Arc<dyn switchboard_runtime::Access> {
        match server {
            Some(server) => Arc::new(crate::servers::Curated {
                inner: self.policy.clone(),
                server: server.clone(),
            }),
            None => self.policy.clone(),
        }
    }

    /// The rate of calls to `tool` (the first matching pattern's), if any.
    pub fn tool_rate(&self, tool: &str) -> Option<Rate> {
        self.tool_rates
            .iter()
            .find(|(p, _)| glob(p, tool))
            .map(|(_, r)| *r)
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// No credential: the anonymous tenant, let in.
    Anonymous,
    /// An API key.
    ApiKey,
    /// A JWT from this issuer.
    Jwt(Arc<str>),
}

/// The authenticated (or anonymous) sender of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Its tenant.
    pub tenant: Arc<Tenant>,
    /// Who it is within the tenant: an API key's id, a token's `sub`, or
    /// `anonymous`.
    pub subject: Arc<str>,
    /// The scopes its token grants (none for API keys and anonymous).
    pub scopes: Arc<[String]>,
    /// How it proved who it is.
    pub via: Via,
    /// The remote address of the connection.
    pub addr: String,
    /// The protected-resource metadata URL, for a scope challenge (set only
    /// when the tenant has tools that need scopes).
    pub metadata_url: Arc<str>,
    /// The JWT it presented (none for API keys and anonymous), for an
    /// upstream that exchanges it for its own token.
    pub token: Option<Arc<switchboard_secret::ClientToken>>,
    /// Every claim of that JWT, for policies (none for API keys and
    /// anonymous principals).
    pub claims: Option<Arc<serde_json::Map<String, serde_json::Value>>>,
    /// The virtual server the request came to (`/mcp/<name>`), if any:
    /// it narrows what the principal sees, and binds its sessions.
    pub server: Option<Arc<crate::servers::VirtualServer>>,
}

impl Principal {
    /// The tenant, subject and how they were proven, whatever the
    /// endpoint.
    fn proven(&self) -> String {
        match &self.via {
            Via::Anonymous => format!("{}/anonymous", self.tenant.id),
            Via::ApiKey => format!("{}/key:{}", self.tenant.id, self.subject),
            Via::Jwt(issuer) => format!("{}/jwt:{issuer}#{}", self.tenant.id, self.subject),
        }
    }

    /// What a session is bound to: requests naming it must come from the
    /// same tenant and subject, proven the same way (the same API key id,
    /// or the same issuer's `sub`: a `sub` of another issuer is someone
    /// else).
    pub fn binding(&self) -> String {
        let who = self.proven();
        // A session of a virtual server is that server's: another endpoint
        // does not find it.
        match &self.server {
            Some(server) => format!("{who}@{}", server.name),
            None => who,
        }
    }

    /// The key of per-identity session caps: the address of an anonymous
    /// client, else the principal (on every endpoint together).
    pub fn identity(&self) -> String {
        match self.via {
            Via::Anonymous => self.addr.clone(),
            _ => self.proven(),
        }
    }

    /// The runtime's view of this principal for a request of `session`.
    pub fn caller(&self, session: Option<&str>) -> Caller {
        Caller {
            tenant: self.tenant.id.clone(),
            subject: self.subject.clone(),
            session: session.map(Arc::from),
            access: self.tenant.access_at(self.server.as_ref()),
            max_upstream_processes: self.tenant.max_upstream_processes,
            token: self.token.clone(),
            scopes: self.scopes.clone(),
            claims: self.claims.clone(),
        }
    }

    /// The scopes `tool` needs that this principal lacks (anonymous
    /// principals and API keys carry no scopes and need none).
    pub fn missing_scopes(&self, tool: &str) -> Vec<String> {
        if !matches!(self.via, Via::Jwt(_)) {
            return Vec::new();
        }
        self.tenant
            .policy
            .scopes_for(tool)
            .into_iter()
            .filter(|s| !self.scopes.iter().any(|have| have == s))
            .map(str::to_owned)
            .collect()
    }
}
