//! The configuration of authentication and tenants (`[auth]`,
//! `[[tenants]]`), and its checks.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use switchboard_auth::JwtConfig;

use crate::rules::Rules;
use crate::secret::Secret;

/// When clients without credentials are let in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnonymousMode {
    /// Only when the server listens on a loopback address (the default).
    #[default]
    Auto,
    /// Always (a warning is logged on a non-loopback listener).
    On,
    /// Never: every request needs a credential.
    Off,
}

/// `[auth]`: how callers prove who they are.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Access without a credential: `auto`, `on` or `off`. Default `auto`.
    pub anonymous: AnonymousMode,
    /// The canonical URL of the MCP endpoint (`resource` in the protected
    /// resource metadata). Default: derived from the request's `Host`.
    pub resource_url: Option<String>,
    /// Authorization servers named in the metadata. Default: the JWT
    /// issuers.
    pub authorization_servers: Vec<String>,
    /// Accepted JWT issuers (`[[auth.jwt]]`).
    pub jwt: Vec<JwtConfig>,
    /// Where audit lines go: `off`, `stdout`, `stderr` or a file path.
    /// Default `off`.
    pub audit: String,
    /// The SHA-256 (hex) of a bearer token `/metrics` requires. Default:
    /// none, and `/metrics` is open (bind it to a private network). May
    /// be a secret reference.
    pub metrics_token_sha256: Option<Secret>,
}

/// An API key as configured: its id and the SHA-256 of the key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// A name for the key, unique in its tenant: the principal's subject.
    pub id: String,
    /// Lowercase hex SHA-256 of the key (`switchboard keys new` prints it).
    pub sha256: String,
}

/// A rate: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    /// Requests per second, sustained.
    pub per_second: f64,
    /// Requests at once above the sustained rate.
    pub burst: u32,
}

/// `[[tenants]]`: one organisation sharing the server. A tenant with id
/// `anonymous` is the policy of clients without credentials.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantConfig {
    /// Letters, digits, `-`, `_` and `.`; at most 64.
    pub id: String,
    /// A display name. Default: the id.
    pub name: Option<String>,
    /// API keys of the tenant.
    pub api_keys: Vec<ApiKeyConfig>,
    /// Tools the tenant may see and call.
    pub tools: Rules,
    /// Resources (URIs, and templates' `uriTemplate`) it may see and read.
    pub resources: Rules,
    /// Prompts it may see and get.
    pub prompts: Rules,
    /// Tool patterns and the scopes a caller needs to call them.
    pub tool_scopes: BTreeMap<String, Vec<String>>,
    /// Its share of the admission queue against other tenants. Default 1.
    pub weight: u32,
    /// Requests per second of the whole tenant.
    pub rate: Option<RateConfig>,
    /// Requests per second of each of its sessions (or stateless clients).
    pub session_rate: Option<RateConfig>,
    /// Tool patterns and the rate of calls to each matching tool.
    pub tool_rates: BTreeMap<String, RateConfig>,
    /// Sessions it may hold at once.
    pub max_sessions: Option<usize>,
    /// Requests it may have running at once.
    pub max_in_flight: Option<usize>,
    /// SSE streams (GET, listen, HTTP+SSE) it may hold open at once.
    pub max_streams: Option<usize>,
    /// Upstream processes it may hold (enforced by the gateway).
    pub max_upstream_processes: Option<usize>,
    /// Whether its users' tokens must be DPoP-bound (RFC 9449; tokens of
    /// Switchboard's own authorization server): bearer tokens and API keys
    /// are then refused. Default false.
    pub require_dpop: bool,
}

impl Default for TenantConfig {
    fn default() -> Self {
        Self {
            id: String::new(),
            name: None,
            api_keys: Vec::new(),
            tools: Rules::default(),
            resources: Rules::default(),
            prompts: Rules::default(),
            tool_scopes: BTreeMap::new(),
            weight: 1,
            rate: None,
            session_rate: None,
            tool_rates: BTreeMap::new(),
            max_sessions: None,
            max_in_flight: None,
            max_streams: None,
            max_upstream_processes: None,
            require_dpop: false,
        }
    }
}

/// The tenant id of clients without credentials.
pub const ANONYMOUS: &str = "anonymous";

/// Check `[auth]` and `[[tenants]]`; the error names the key.
pub(crate) fn validate(
    auth: &AuthConfig,
    tenants: &[TenantConfig],
) -> Result<(), (String, String)> {
    let mut seen = HashSet::new();
    for (i, t) in tenants.iter().enumerate() {
        let key = |k: &str| format!("tenants[{i}].{k}");
        validate_id(&t.id).map_err(|message| (key("id"), message))?;
        if !seen.insert(t.id.as_str()) {
            return Err((key("id"), format!("tenant {:?} is defined twice", t.id)));
        }
        validate_tenant(t).map_err(|(k, message)| (key(&k), message))?;
    }
    validate_jwt(auth, &seen)?;
    validate_unique_keys(tenants)?;
    if let Some(d) = &auth.metrics_token_sha256
        && !is_digest(d.expose())
    {
        return Err((
            "auth.metrics_token_sha256".into(),
            "must be the 64 hex digits of a SHA-256 digest".into(),
        ));
    }
    Ok(())
}

/// A tenant id: 1-64 letters, digits, `-`, `_` or `.`.
pub(crate) fn validate_id(id: &str) -> Result<(), String> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !valid {
        return Err(format!("{id:?}: use 1-64 letters, digits, '-', '_' or '.'"));
    }
    Ok(())
}

/// One tenant's keys, weight, rates and caps; the error names the key
/// within the tenant.
fn validate_tenant(t: &TenantConfig) -> Result<(), (String, String)> {
    if t.id == ANONYMOUS && !t.api_keys.is_empty() {
        return Err((
            "api_keys".into(),
            "the anonymous tenant has no credentials".into(),
        ));
    }
    if let Some(k) = t.api_keys.iter().position(|k| !is_digest(&k.sha256)) {
        return Err((
            format!("api_keys[{k}].sha256"),
            "must be the 64 hex digits of a SHA-256 digest (see `switchboard keys new`)".into(),
        ));
    }
    if t.weight == 0 {
        return Err(("weight".into(), "must be greater than 0".into()));
    }
    validate_rates(t)?;
    let zero = [
        ("max_sessions", t.max_sessions),
        ("max_in_flight", t.max_in_flight),
        ("max_streams", t.max_streams),
    ];
    if let Some((k, _)) = zero.iter().find(|(_, v)| *v == Some(0)) {
        return Err(((*k).into(), "must be greater than 0".into()));
    }
    Ok(())
}

/// A tenant's `rate`, `session_rate` and `tool_rates`: each a usable rate.
fn validate_rates(t: &TenantConfig) -> Result<(), (String, String)> {
    let rates = t
        .rate
        .iter()
        .map(|r| ("rate".to_owned(), r))
        .chain(
            t.session_rate
                .iter()
                .map(|r| ("session_rate".to_owned(), r)),
        )
        .chain(
            t.tool_rates
                .iter()
                .map(|(p, r)| (format!("tool_rates.{p}"), r)),
        );
    for (name, r) in rates {
        if switchboard_limits::Rate::new(r.per_second, r.burst).is_none() {
            return Err((name, "per_second must be > 0 and burst >= 1".into()));
        }
    }
    Ok(())
}

/// Each `[[auth.jwt]]` issuer valid, naming only configured tenants.
fn validate_jwt(auth: &AuthConfig, tenants: &HashSet<&str>) -> Result<(), (String, String)> {
    for (i, j) in auth.jwt.iter().enumerate() {
        j.validate()
            .map_err(|e| (format!("auth.jwt[{i}]"), e.to_string()))?;
        if let Some(unknown) = j.tenants.iter().find(|t| !tenants.contains(t.as_str())) {
            return Err((
                format!("auth.jwt[{i}].tenants"),
                format!("no tenant {unknown:?} is configured"),
            ));
        }
    }
    Ok(())
}

/// No API key configured twice (in one tenant or in two).
fn validate_unique_keys(tenants: &[TenantConfig]) -> Result<(), (String, String)> {
    let mut unique = HashSet::new();
    let digests = tenants
        .iter()
        .flat_map(|t| &t.api_keys)
        .map(|k| k.sha256.to_ascii_lowercase());
    for d in digests {
        if !unique.insert(d) {
            return Err((
                "tenants.api_keys".into(),
                "the same key is configured twice".into(),
            ));
        }
    }
    Ok(())
}

fn is_digest(d: &str) -> bool {
    d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())
}

impl crate::Config {
    /// The canonical URL of the MCP endpoint where it does not come from a
    /// request's `Host`: `[auth] resource_url`, or, with Switchboard's own
    /// authorization server, its issuer's `/mcp` (tokens are bound to it).
    pub fn resource_url(&self) -> Option<String> {
        self.auth
            .resource_url
            .clone()
            .or_else(|| self.oauth.as_ref().map(|o| format!("{}/mcp", o.issuer)))
    }

    /// Every scope a token for this server may carry: what tenants' tools
    /// need, and what `[oauth]` grants (its users', its rules'); sorted,
    /// once each.
    pub fn scopes_supported(&self) -> Vec<String> {
        let mut scopes: Vec<String> = self
            .tenants
            .iter()
            .flat_map(|t| t.tool_scopes.values().flatten().cloned())
            .collect();
        if let Some(o) = &self.oauth {
            scopes.extend(o.users.iter().flat_map(|u| u.scopes.iter().cloned()));
            let rules = o.oidc.iter().flat_map(|d| d.rules.iter());
            scopes.extend(rules.flat_map(|r| r.scopes.iter().cloned()));
        }
        scopes.sort();
        scopes.dedup();
        scopes
    }
}

/// The resource URL of virtual server `name` on the endpoint `base`.
pub fn server_resource_url(base: &str, name: &str) -> String {
    format!("{}/{name}", base.trim_end_matches('/'))
}
