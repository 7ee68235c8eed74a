//! Every configured tenant and the ways to authenticate as one, compiled
//! from `[auth]` and `[[tenants]]`; the endpoint's resource URL and where
//! its protected-resource metadata lives. Credentials are checked by
//! `switchboard-auth`; this module maps a verified identity to a tenant.

mod authn;

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;
use switchboard_auth::{ApiKeyEntry, ApiKeys, JwtVerifier};
use switchboard_config::{ANONYMOUS, AnonymousMode, Config};

pub use authn::{AuthFailure, Own};

use crate::tenant::{Judging, Tenant};

/// Where the protected-resource metadata lives (RFC 9728 §3).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Every configured tenant and the ways to authenticate as one.
#[derive(Debug)]
pub struct Tenants {
    by_id: HashMap<Arc<str>, Arc<Tenant>>,
    anonymous: Option<Arc<Tenant>>,
    keys: ApiKeys,
    jwt: Vec<JwtVerifier>,
    /// The configured canonical URL of the MCP endpoint, if any.
    pub resource_url: Option<String>,
    /// The authorization servers named in the metadata document.
    pub authorization_servers: Vec<String>,
    /// Every scope some tenant's tools need, sorted, once each.
    pub scopes_supported: Vec<String>,
    /// The token `/metrics` needs, if one is configured.
    metrics: Option<ApiKeys>,
    /// Virtual servers, by name (`[[servers]]`).
    servers: std::collections::BTreeMap<String, Arc<crate::servers::VirtualServer>>,
}

impl Tenants {
    /// Compile `[auth]` and `[[tenants]]` (already validated).
    pub fn new(config: &Config) -> Result<Self, String> {
        let anonymous_on = anonymous_on(config);
        // Tenants split the admission queue by weight, so one cannot fill
        // it for the others.
        let implicit_anonymous = anonymous_on && !config.tenants.iter().any(|t| t.id == ANONYMOUS);
        let total: u32 = config.tenants.iter().map(|t| t.weight.max(1)).sum::<u32>()
            + u32::from(implicit_anonymous);
        let queue_share = (total > 1 && config.tenants.len() + usize::from(implicit_anonymous) > 1)
            .then_some((config.max_queue, total));
        let mut by_id = HashMap::new();
        let mut entries = Vec::new();
        let judging = Judging {
            rules: config.policy_rules(),
            redactor: config
                .redact
                .redactor()
                .map_err(|(key, e)| format!("{key}: {e}"))?
                .map(Arc::new),
            hooks: hooks(config)?,
        };
        for t in &config.tenants {
            let tenant = Arc::new(Tenant::new(t, queue_share, &judging));
            by_id.insert(tenant.id.clone(), tenant);
            entries.extend(t.api_keys.iter().map(|k| ApiKeyEntry {
                tenant: t.id.clone(),
                id: k.id.clone(),
                sha256: k.sha256.clone(),
            }));
        }
        let anonymous = anonymous_on.then(|| {
            by_id
                .get(ANONYMOUS)
                .cloned()
                .unwrap_or_else(|| Arc::new(Tenant::anonymous_default(queue_share, &judging)))
        });
        let jwt = config
            .auth
            .jwt
            .iter()
            .map(|j| JwtVerifier::new(j.clone()).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let authorization_servers = if config.auth.authorization_servers.is_empty() {
            let own = config.oauth.iter().map(|o| o.issuer.clone());
            own.chain(config.auth.jwt.iter().map(|j| j.issuer.clone()))
                .collect()
        } else {
            config.auth.authorization_servers.clone()
        };
        log_tenants(&by_id);
        let servers = config
            .servers
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    Arc::new(crate::servers::VirtualServer::new(c)),
                )
            })
            .collect();
        Ok(Self {
            servers,
            metrics: metrics_token(config)?,
            by_id,
            anonymous,
            keys: ApiKeys::new(entries).map_err(|e| e.to_string())?,
            jwt,
            resource_url: config.resource_url(),
            authorization_servers,
            scopes_supported: config.scopes_supported(),
        })
    }

    /// Whether a request may read `/metrics`: always without a configured
    /// token, else only with it.
    pub fn may_scrape(&self, headers: &HeaderMap) -> bool {
        let Some(keys) = &self.metrics else {
            return true;
        };
        headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| authn::bearer(v).ok())
            .is_some_and(|token| keys.verify(token).is_some())
    }

    /// Whether clients without credentials are let in.
    pub fn anonymous_allowed(&self) -> bool {
        self.anonymous.is_some()
    }

    /// Whether `id` is a configured tenant, or the anonymous one let in.
    pub fn has(&self, id: &str) -> bool {
        if id == ANONYMOUS {
            return self.anonymous.is_some();
        }
        self.by_id.contains_key(id)
    }

    /// The tenant `id`, if it is configured (or the anonymous one let in).
    pub fn get(&self, id: &str) -> Option<Arc<Tenant>> {
        self.all().find(|t| &*t.id == id).cloned()
    }

    /// Every configured tenant, and the anonymous one if it is let in.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_id.values().chain(
            self.anonymous
                .iter()
                .filter(|a| !self.by_id.contains_key(&a.id)),
        )
    }
}

impl Tenants {
    /// The virtual server `name`.
    pub fn server(&self, name: &str) -> Option<&Arc<crate::servers::VirtualServer>> {
        self.servers.get(name)
    }

    /// Whether some virtual server is chosen by host.
    pub fn has_host_servers(&self) -> bool {
        self.servers.values().any(|s| !s.hosts.is_empty())
    }

    /// The virtual server whose `hosts` name `host` (without a port).
    pub fn server_for_host(&self, host: &str) -> Option<&Arc<crate::servers::VirtualServer>> {
        if self.servers.is_empty() {
            return None;
        }
        let host = host.to_ascii_lowercase();
        self.servers.values().find(|s| s.hosts.contains(&host))
    }

    /// Every virtual server, by name.
    pub fn servers(&self) -> impl Iterator<Item = &Arc<crate::servers::VirtualServer>> {
        self.servers.values()
    }

    /// The canonical URL of `server`'s endpoint (`…/mcp/<name>`), or of
    /// `/mcp` for none.
    pub fn resource_url_of(
        &self,
        headers: &HeaderMap,
        server: Option<&crate::servers::VirtualServer>,
    ) -> String {
        let base = self.resource_url(headers);
        match server {
            Some(s) => switchboard_config::server_resource_url(&base, &s.name),
            None => base,
        }
    }

    /// The URL of the metadata document of `server`'s endpoint (or of
    /// `/mcp`): RFC 9728 §3.1, the well-known path goes between the host
    /// and the resource's path.
    pub fn metadata_url_of(
        &self,
        headers: &HeaderMap,
        server: Option<&crate::servers::VirtualServer>,
    ) -> String {
        let resource = self.resource_url_of(headers, server);
        let (origin, path) = split_origin(&resource);
        format!("{origin}{METADATA_PATH}{path}")
    }

    /// The canonical URL of the MCP endpoint: configured, or from `Host`.
    pub fn resource_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.resource_url {
            return url.clone();
        }
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}/mcp")
    }
}

/// The guardrail hooks, sharing one HTTP client (no redirects followed:
/// a hook answers where it is).
fn hooks(config: &Config) -> Result<Vec<Arc<crate::hooks::Hook>>, String> {
    if config.hooks.is_empty() {
        return Ok(Vec::new());
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("hooks: {e}"))?;
    Ok(config
        .hooks
        .iter()
        .map(|h| Arc::new(crate::hooks::Hook::new(h, client.clone())))
        .collect())
}

/// Whether clients without credentials are let in (`auth.anonymous`;
/// `auto`: on a loopback listener only). Warns when it is on for a
/// listener others can reach.
fn anonymous_on(config: &Config) -> bool {
    let on = match config.auth.anonymous {
        AnonymousMode::On => true,
        AnonymousMode::Off => false,
        // With sign-in configured, a client must sign in even on loopback.
        AnonymousMode::Auto => config.listen.ip().is_loopback() && config.oauth.is_none(),
    };
    if config.auth.anonymous == AnonymousMode::On && !config.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %config.listen,
            "anonymous access is on for a non-loopback listener: anyone who can reach it may use it"
        );
    }
    on
}

/// The token `/metrics` needs (`auth.metrics_token_sha256`), if configured.
fn metrics_token(config: &Config) -> Result<Option<ApiKeys>, String> {
    config
        .auth
        .metrics_token_sha256
        .as_ref()
        .map(|sha256| {
            ApiKeys::new(vec![ApiKeyEntry {
                tenant: "metrics".into(),
                id: "scraper".into(),
                sha256: sha256.expose().to_owned(),
            }])
            .map_err(|e| e.to_string())
        })
        .transpose()
}

/// One debug line per configured tenant.
fn log_tenants(by_id: &HashMap<Arc<str>, Arc<Tenant>>) {
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
}

/// `scheme://host` and the path of a URL (the path may be empty).
fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => url.split_at(after_scheme + i),
        None => (url, ""),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_origin_and_path() {
        assert_eq!(
            super::split_origin("https://a.example:8443/mcp"),
            ("https://a.example:8443", "/mcp")
        );
        assert_eq!(
            super::split_origin("http://a.example"),
            ("http://a.example", "")
        );
    }
}
