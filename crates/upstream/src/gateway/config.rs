//! `[[upstreams]]`: the MCP servers put behind Switchboard.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use switchboard_identity::{Grant, UpstreamAuth};
use switchboard_secret::Secret;

/// What kind of server an upstream is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamKind {
    /// A program speaking MCP on stdin/stdout.
    #[default]
    Stdio,
    /// The built-in `everything` toolset, in process (prefix must be empty).
    Builtin,
    /// A Streamable HTTP MCP server (session eras 2025-03-26 … 2025-11-25).
    Http,
}

/// Which protocol era Switchboard speaks to an upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamProtocol {
    /// Ask the upstream (`server/discover` at start-up): if it speaks
    /// 2026-07-28, stateless clients' requests go to it as stateless
    /// requests, with their own `_meta`; session clients always use an
    /// upstream session. The default.
    #[default]
    Auto,
    /// Only the session eras (`initialize`), whatever the client speaks.
    Session,
    /// Only 2026-07-28 (a server without `initialize`): every request goes
    /// as a stateless one, a session client's with `_meta` made from its
    /// session (capabilities; log lines filtered by its level here), and
    /// requests the upstream needs answered reach the session client as
    /// real requests. Resource subscriptions of session clients are not
    /// carried to such an upstream.
    Stateless,
}

/// How clients share a stdio upstream's processes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolMode {
    /// A process per client session (per principal for stateless clients):
    /// for servers that keep state. The default.
    #[default]
    PerSession,
    /// `processes` processes shared by every client, for stateless servers.
    Shared,
}

/// Whose credentials reach an upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    /// A tenant with its own entry in `tenants` uses it; every other
    /// tenant uses the upstream's `headers` and `env`. The default.
    #[default]
    Upstream,
    /// Only tenants with their own entry in `tenants` may use the
    /// upstream; others are refused (and do not see its tools).
    PerTenant,
}

/// One tenant's own credentials for an upstream: put over the upstream's
/// `headers` (by name, whatever its case) and `env` (by name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantCredentials {
    /// Headers sent to an HTTP upstream for this tenant.
    pub headers: BTreeMap<String, Secret>,
    /// Variables set for this tenant's processes of a stdio upstream.
    pub env: BTreeMap<String, Secret>,
    /// With `[upstreams.auth] grant = "client_credentials"`: the tenant's
    /// own client at the identity provider.
    pub client_id: Option<String>,
    /// Its secret.
    pub client_secret: Option<Secret>,
}

/// One `[[upstreams]]` entry. Two entries are equal when everything,
/// secrets' values included, is: a reload restarts an upstream whose
/// secret file changed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Its name: in logs, metrics and the default prefix.
    pub name: String,
    /// What kind of server it is (stdio, http or builtin). Default stdio.
    pub kind: UpstreamKind,
    /// The program (stdio).
    pub command: String,
    /// The MCP endpoint (http), e.g. `https://mcp.example.com/mcp`.
    pub url: String,
    /// `auto` (default), `session` or `stateless`: see [`UpstreamProtocol`].
    pub protocol: UpstreamProtocol,
    /// Headers sent to an HTTP upstream: its own credentials (a client's
    /// token is never passed on). Each value inline or a secret
    /// reference (`{ env = "GITHUB_TOKEN", prefix = "Bearer " }`).
    pub headers: BTreeMap<String, Secret>,
    /// Idle connections kept per HTTP upstream host. Default: the
    /// server's `upstream_pool_size`.
    pub pool_size: Option<usize>,
    /// Arguments to `command` (stdio).
    pub args: Vec<String>,
    /// Variables set for the program on top of Switchboard's own
    /// environment, which it inherits (stdio). Each value inline or a
    /// secret reference (`{ file = "/run/secrets/api-key" }`).
    pub env: BTreeMap<String, Secret>,
    /// The program's working directory (stdio); `None`: Switchboard's.
    pub cwd: Option<PathBuf>,
    /// Put before its tools' names; default `<name>__`; may be empty.
    pub prefix: Option<String>,
    /// How clients share its processes (or, for http, upstream sessions):
    /// see [`PoolMode`]. Default `per_session`.
    pub mode: PoolMode,
    /// Processes of a `shared` upstream. Default 1.
    pub processes: usize,
    /// Processes of this upstream at most (`per_session`). Default 64.
    pub max_processes: usize,
    /// Milliseconds a new session waits for a process slot. Default 5000.
    pub pool_wait_ms: u64,
    /// Seconds an idle per-principal process (stateless clients) lives.
    /// Default 300.
    pub idle_secs: u64,
    /// Seconds one call may take. Default 60.
    pub call_timeout_secs: u64,
    /// Longest line the upstream may write. Default 4 MiB.
    pub max_line_bytes: usize,
    /// Consecutive failures (timeouts, crashes) that open the circuit
    /// breaker. Default 5.
    pub breaker_failures: u32,
    /// Seconds the breaker stays open before a probe. Default 10.
    pub breaker_cool_down_secs: u64,
    /// Requests in flight to this upstream at most, across every session
    /// and tenant (0: no limit). Beyond it requests wait in a queue fair
    /// across tenants and sessions, up to `pool_wait_ms`. Default 0.
    pub max_concurrency: usize,
    /// Requests per second this upstream is sent at most, sustained (0:
    /// no rate limit), for upstreams wrapping a rate-limited API. Default 0.
    pub rate_per_sec: f64,
    /// Requests sent at once before `rate_per_sec` holds (with a rate).
    /// Default 1.
    pub burst: u32,
    /// `upstream` (default) or `per_tenant`: see [`Credentials`].
    pub credentials: Credentials,
    /// Tenants' own credentials, by tenant id
    /// (`[upstreams.tenants.acme] headers = { … }`). A tenant with an
    /// entry never shares a process or an upstream session with another.
    pub tenants: BTreeMap<String, TenantCredentials>,
    /// A bearer token per caller from an identity provider (HTTP
    /// upstreams): see [`UpstreamAuth`].
    pub auth: Option<UpstreamAuth>,
    /// Pinned tool definitions: `off` (default), `warn` or `enforce`
    /// (see [`super::PinMode`]).
    pub pinning: super::PinMode,
    /// With pinning on, approve a tool's definition the first time it is
    /// seen (default); off, every new tool waits for an admin too.
    pub pin_first_sight: bool,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: UpstreamKind::Stdio,
            command: String::new(),
            url: String::new(),
            protocol: UpstreamProtocol::Auto,
            headers: BTreeMap::new(),
            pool_size: None,
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            prefix: None,
            mode: PoolMode::PerSession,
            processes: 1,
            max_processes: 64,
            pool_wait_ms: 5000,
            idle_secs: 300,
            call_timeout_secs: 60,
            max_line_bytes: crate::DEFAULT_MAX_LINE_BYTES,
            breaker_failures: 5,
            breaker_cool_down_secs: 10,
            max_concurrency: 0,
            rate_per_sec: 0.0,
            burst: 1,
            credentials: Credentials::Upstream,
            tenants: BTreeMap::new(),
            auth: None,
            pinning: super::PinMode::Off,
            pin_first_sight: true,
        }
    }
}

impl UpstreamConfig {
    /// The prefix its tools carry.
    pub fn prefix(&self) -> String {
        self.prefix
            .clone()
            .unwrap_or_else(|| format!("{}__", self.name))
    }

    /// Check the entry; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let valid_name = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        if !valid_name {
            return Err(("name".into(), "use 1-64 letters, digits, '-' or '_'".into()));
        }
        if self.kind == UpstreamKind::Builtin && self.pinning != super::PinMode::Off {
            return Err((
                "pinning".into(),
                "the built-in toolset is Switchboard's own: pin stdio and http upstreams".into(),
            ));
        }
        match self.kind {
            UpstreamKind::Stdio if self.command.is_empty() => {
                Err(("command".into(), "a stdio upstream needs a command".into()))
            }
            UpstreamKind::Http
                if !(self.url.starts_with("http://") || self.url.starts_with("https://")) =>
            {
                Err(("url".into(), "an http upstream needs an http(s) URL".into()))
            }
            UpstreamKind::Builtin if !self.prefix().is_empty() => Err((
                "prefix".into(),
                "the builtin toolset is served without a prefix: set prefix = \"\"".into(),
            )),
            _ if self.processes == 0 || self.max_processes == 0 => Err((
                "processes".into(),
                "processes and max_processes must be greater than 0".into(),
            )),
            _ if !(self.rate_per_sec.is_finite() && self.rate_per_sec >= 0.0) => Err((
                "rate_per_sec".into(),
                "use a number of requests per second, 0 for no rate limit".into(),
            )),
            _ if self.rate_per_sec > 0.0 && self.burst == 0 => Err((
                "burst".into(),
                "with a rate_per_sec, burst must be at least 1".into(),
            )),
            _ => self.validate_credentials(),
        }
    }

    /// Tenants' credentials: not for the builtin toolset, required with
    /// `credentials = "per_tenant"`, header names valid.
    fn validate_credentials(&self) -> Result<(), (String, String)> {
        if self.kind == UpstreamKind::Builtin
            && (!self.tenants.is_empty() || self.credentials == Credentials::PerTenant)
        {
            return Err((
                "tenants".into(),
                "the builtin toolset takes no credentials".into(),
            ));
        }
        if self.credentials == Credentials::PerTenant && self.tenants.is_empty() {
            return Err((
                "credentials".into(),
                "credentials = \"per_tenant\" needs at least one [upstreams.tenants.<id>] entry"
                    .into(),
            ));
        }
        let headers = self
            .headers
            .keys()
            .map(|h| ("headers".to_owned(), h))
            .chain(self.tenants.iter().flat_map(|(t, c)| {
                c.headers
                    .keys()
                    .map(move |h| (format!("tenants.{t}.headers"), h))
            }));
        for (field, name) in headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err((field, format!("{name:?} is not a header name")));
            }
        }
        self.validate_auth()
    }

    /// `[upstreams.auth]`: valid, for an HTTP upstream, and exchanged
    /// tokens only on connections of one caller each.
    fn validate_auth(&self) -> Result<(), (String, String)> {
        let Some(auth) = &self.auth else {
            return match self.tenants.iter().find(|(_, c)| c.client_id.is_some()) {
                Some((t, _)) => Err((
                    format!("tenants.{t}.client_id"),
                    "a client id needs [upstreams.auth] grant = \"client_credentials\"".into(),
                )),
                None => Ok(()),
            };
        };
        auth.validate()
            .map_err(|(field, message)| (format!("auth.{field}"), message))?;
        if self.kind != UpstreamKind::Http {
            return Err((
                "auth".into(),
                "tokens from an identity provider are for http upstreams".into(),
            ));
        }
        if auth.grant != Grant::ClientCredentials && self.mode != PoolMode::PerSession {
            return Err((
                "mode".into(),
                "a token of each caller's own needs mode = \"per_session\" (an upstream session per caller)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// How `tenant`'s tokens are had: the upstream's `auth`, with the
    /// tenant's own client, if it has one.
    pub fn auth_for(&self, tenant: Option<&str>) -> Option<UpstreamAuth> {
        let mut auth = self.auth.clone()?;
        if let Some(own) = tenant.and_then(|t| self.tenants.get(t))
            && let Some(id) = &own.client_id
        {
            auth.client_id = id.clone();
            auth.client_secret = own.client_secret.clone();
        }
        Some(auth)
    }

    /// The headers `tenant` sends: the upstream's, with the tenant's own
    /// put over them (names compared without case).
    pub fn headers_for(&self, tenant: Option<&str>) -> BTreeMap<String, Secret> {
        let mut headers = self.headers.clone();
        if let Some(own) = tenant.and_then(|t| self.tenants.get(t)) {
            for (name, value) in &own.headers {
                headers.retain(|k, _| !k.eq_ignore_ascii_case(name));
                headers.insert(name.clone(), value.clone());
            }
        }
        headers
    }

    /// The environment `tenant`'s processes get on top of Switchboard's:
    /// the upstream's, with the tenant's own put over it.
    pub fn env_for(&self, tenant: Option<&str>) -> BTreeMap<String, Secret> {
        let mut env = self.env.clone();
        if let Some(own) = tenant.and_then(|t| self.tenants.get(t)) {
            env.extend(own.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio() -> UpstreamConfig {
        UpstreamConfig {
            name: "up".into(),
            command: "server".into(),
            ..UpstreamConfig::default()
        }
    }

    #[test]
    fn limits_are_off_by_default_and_checked_when_set() {
        let c = stdio();
        assert_eq!((c.max_concurrency, c.rate_per_sec, c.burst), (0, 0.0, 1));
        assert!(c.validate().is_ok());
        let ok = UpstreamConfig {
            max_concurrency: 4,
            rate_per_sec: 2.5,
            burst: 5,
            ..stdio()
        };
        assert!(ok.validate().is_ok());
        for (bad, field) in [
            (
                UpstreamConfig {
                    rate_per_sec: -1.0,
                    ..stdio()
                },
                "rate_per_sec",
            ),
            (
                UpstreamConfig {
                    rate_per_sec: f64::NAN,
                    ..stdio()
                },
                "rate_per_sec",
            ),
            (
                UpstreamConfig {
                    rate_per_sec: 1.0,
                    burst: 0,
                    ..stdio()
                },
                "burst",
            ),
        ] {
            assert_eq!(bad.validate().unwrap_err().0, field);
        }
    }

    #[test]
    fn the_new_keys_deserialize() {
        let c: UpstreamConfig = serde_json::from_value(serde_json::json!({
            "name": "up", "command": "x", "max_concurrency": 2, "rate_per_sec": 0.5, "burst": 3
        }))
        .unwrap();
        assert_eq!((c.max_concurrency, c.rate_per_sec, c.burst), (2, 0.5, 3));
    }
}
