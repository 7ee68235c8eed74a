//! Tenants and principals: who a request comes from, which tenant that is,
//! and what the tenant may do. Credentials are checked by
//! `switchboard-auth`; this module maps a verified identity to a tenant.

mod authn;
pub(crate) mod policy;

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_auth::{ApiKeyEntry, ApiKeys, JwtVerifier};
use switchboard_limits::Rate;
use switchboard_runtime::Caller;

pub(crate) use authn::AuthFailure;
use policy::Policy;
use switchboard_config::{ANONYMOUS, AnonymousMode, Config, RateConfig, TenantConfig, glob};

/// One tenant, compiled from its configuration.
#[derive(Debug)]
pub(crate) struct Tenant {
    pub(crate) id: Arc<str>,
    pub(crate) name: String,
    pub(crate) policy: Arc<Policy>,
    pub(crate) weight: u32,
    pub(crate) rate: Option<Rate>,
    pub(crate) session_rate: Option<Rate>,
    tool_rates: Vec<(String, Rate)>,
    pub(crate) max_sessions: Option<usize>,
    pub(crate) max_in_flight: Option<usize>,
    pub(crate) max_streams: Option<usize>,
    pub(crate) max_upstream_processes: Option<usize>,
    /// Its share of the admission queue (by weight), when tenants share it.
    pub(crate) max_queued: Option<usize>,
}

fn rate(r: &RateConfig) -> Option<Rate> {
    Rate::new(r.per_second, r.burst)
}

impl Tenant {
    fn new(c: &TenantConfig, queue_share: Option<(usize, u32)>) -> Self {
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
        }
    }

    fn anonymous_default(queue_share: Option<(usize, u32)>) -> Self {
        let config = TenantConfig {
            id: ANONYMOUS.to_owned(),
            ..TenantConfig::default()
        };
        Self::new(&config, queue_share)
    }

    /// The rate of calls to `tool` (the first matching pattern's), if any.
    pub(crate) fn tool_rate(&self, tool: &str) -> Option<Rate> {
        self.tool_rates
            .iter()
            .find(|(p, _)| glob(p, tool))
            .map(|(_, r)| *r)
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Via {
    Anonymous,
    ApiKey,
    /// A JWT from this issuer.
    Jwt(Arc<str>),
}

/// The authenticated (or anonymous) sender of a request.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) tenant: Arc<Tenant>,
    pub(crate) subject: Arc<str>,
    pub(crate) scopes: Arc<[String]>,
    pub(crate) via: Via,
    /// The remote address of the connection.
    pub(crate) addr: String,
    /// The protected-resource metadata URL, for a scope challenge (set only
    /// when the tenant has tools that need scopes).
    pub(crate) metadata_url: Arc<str>,
}

impl Principal {
    /// What a session is bound to: requests naming it must come from the
    /// same tenant and subject, proven the same way (the same API key id,
    /// or the same issuer's `sub`: a `sub` of another issuer is someone
    /// else).
    pub(crate) fn binding(&self) -> String {
        match &self.via {
            Via::Anonymous => format!("{}/anonymous", self.tenant.id),
            Via::ApiKey => format!("{}/key:{}", self.tenant.id, self.subject),
            Via::Jwt(issuer) => format!("{}/jwt:{issuer}#{}", self.tenant.id, self.subject),
        }
    }

    /// The key of per-identity session caps: the address of an anonymous
    /// client, else the principal.
    pub(crate) fn identity(&self) -> String {
        match self.via {
            Via::Anonymous => self.addr.clone(),
            _ => self.binding(),
        }
    }

    /// The runtime's view of this principal for a request of `session`.
    pub(crate) fn caller(&self, session: Option<&str>) -> Caller {
        Caller {
            tenant: self.tenant.id.clone(),
            subject: self.subject.clone(),
            session: session.map(Arc::from),
            access: self.tenant.policy.clone(),
            max_upstream_processes: self.tenant.max_upstream_processes,
        }
    }

    /// The scopes `tool` needs that this principal lacks (anonymous
    /// principals and API keys carry no scopes and need none).
    pub(crate) fn missing_scopes(&self, tool: &str) -> Vec<String> {
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

/// Every configured tenant and the ways to authenticate as one.
#[derive(Debug)]
pub(crate) struct Tenants {
    by_id: HashMap<Arc<str>, Arc<Tenant>>,
    anonymous: Option<Arc<Tenant>>,
    keys: ApiKeys,
    jwt: Vec<JwtVerifier>,
    pub(crate) resource_url: Option<String>,
    pub(crate) authorization_servers: Vec<String>,
    pub(crate) scopes_supported: Vec<String>,
    /// The token `/metrics` needs, if one is configured.
    metrics: Option<ApiKeys>,
}

impl Tenants {
    /// Compile `[auth]` and `[[tenants]]` (already validated).
    pub(crate) fn new(config: &Config) -> Result<Self, String> {
        let anonymous_on = match config.auth.anonymous {
            AnonymousMode::On => true,
            AnonymousMode::Off => false,
            AnonymousMode::Auto => config.listen.ip().is_loopback(),
        };
        if config.auth.anonymous == AnonymousMode::On && !config.listen.ip().is_loopback() {
            tracing::warn!(
                listen = %config.listen,
                "anonymous access is on for a non-loopback listener: anyone who can reach it may use it"
            );
        }
        // Tenants split the admission queue by weight, so one cannot fill
        // it for the others.
        let implicit_anonymous = anonymous_on && !config.tenants.iter().any(|t| t.id == ANONYMOUS);
        let total: u32 = config.tenants.iter().map(|t| t.weight.max(1)).sum::<u32>()
            + u32::from(implicit_anonymous);
        let queue_share = (total > 1 && config.tenants.len() + usize::from(implicit_anonymous) > 1)
            .then_some((config.max_queue, total));
        let mut by_id = HashMap::new();
        let mut entries = Vec::new();
        let mut scopes = Vec::new();
        for t in &config.tenants {
            let tenant = Arc::new(Tenant::new(t, queue_share));
            by_id.insert(tenant.id.clone(), tenant);
            entries.extend(t.api_keys.iter().map(|k| ApiKeyEntry {
                tenant: t.id.clone(),
                id: k.id.clone(),
                sha256: k.sha256.clone(),
            }));
            scopes.extend(t.tool_scopes.values().flatten().cloned());
        }
        scopes.sort();
        scopes.dedup();
        let anonymous = anonymous_on.then(|| {
            by_id
                .get(ANONYMOUS)
                .cloned()
                .unwrap_or_else(|| Arc::new(Tenant::anonymous_default(queue_share)))
        });
        let jwt = config
            .auth
            .jwt
            .iter()
            .map(|j| JwtVerifier::new(j.clone()).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let authorization_servers = if config.auth.authorization_servers.is_empty() {
            config.auth.jwt.iter().map(|j| j.issuer.clone()).collect()
        } else {
            config.auth.authorization_servers.clone()
        };
        for t in by_id.values() {
            tracing::debug!(
                tenant = %t.id,
                name = %t.name,
                weight = t.weight,
                max_sessions = ?t.max_sessions,
                max_in_flight = ?t.max_in_flight,
                max_streams = ?t.max_streams,
                max_upstream_processes = ?t.max_upstream_processes,
                "tenant configured"
            );
        }
        let metrics = config
            .auth
            .metrics_token_sha256
            .as_ref()
            .map(|sha256| {
                ApiKeys::new(vec![ApiKeyEntry {
                    tenant: "metrics".into(),
                    id: "scraper".into(),
                    sha256: sha256.clone(),
                }])
                .map_err(|e| e.to_string())
            })
            .transpose()?;
        Ok(Self {
            metrics,
            by_id,
            anonymous,
            keys: ApiKeys::new(entries).map_err(|e| e.to_string())?,
            jwt,
            resource_url: config.auth.resource_url.clone(),
            authorization_servers,
            scopes_supported: scopes,
        })
    }

    /// Whether a request may read `/metrics`: always without a configured
    /// token, else only with it.
    pub(crate) fn may_scrape(&self, headers: &http::HeaderMap) -> bool {
        let Some(keys) = &self.metrics else {
            return true;
        };
        headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| authn::bearer(v).ok())
            .is_some_and(|token| keys.verify(token).is_some())
    }

    /// Whether clients without credentials are let in.
    pub(crate) fn anonymous_allowed(&self) -> bool {
        self.anonymous.is_some()
    }

    /// Whether `id` is a configured tenant, or the anonymous one let in.
    pub(crate) fn has(&self, id: &str) -> bool {
        if id == ANONYMOUS {
            return self.anonymous.is_some();
        }
        self.by_id.contains_key(id)
    }

    /// The tenant `id`, if it is configured (or the anonymous one let in).
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.all().find(|t| &*t.id == id).cloned()
    }

    /// Every configured tenant, and the anonymous one if it is let in.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_id.values().chain(
            self.anonymous
                .iter()
                .filter(|a| !self.by_id.contains_key(&a.id)),
        )
    }
}
