//! Server configuration: typed, with defaults, read from TOML.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod admin;
mod store;
mod telemetry;

pub use self::admin::AdminConfig;

pub use self::store::{StoreKind, redact_url};
pub use self::telemetry::TelemetryConfig;
pub use crate::capacity::CapPolicy;
pub use crate::tenant::config::{
    AnonymousMode, ApiKeyConfig, AuthConfig, RateConfig, TenantConfig,
};
pub use crate::tenant::policy::Rules;

/// The smallest `max_session_bytes` accepted.
const MIN_SESSION_BYTES: usize = 1024;

/// Everything the HTTP front needs to know. Every field has a default, so an
/// empty file is a valid configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Largest request body in bytes; larger ones get 413. Default 4 MiB.
    pub max_body_bytes: usize,
    /// Seconds between SSE keep-alive comments on an idle stream. Default 15.
    #[serde(deserialize_with = "duration::secs")]
    pub keep_alive_secs: u64,
    /// The `retry:` hint, in milliseconds, sent with priming events. Default 1000.
    #[serde(deserialize_with = "duration::millis")]
    pub sse_retry_ms: u64,
    /// Events buffered per open stream before a slow reader is cut off (it
    /// resumes from the event log). Default 256.
    pub stream_buffer: usize,
    /// Events kept per session for resumption. Default 1024.
    pub event_log_events: usize,
    /// Bytes of events kept per session for resumption. Default 1 MiB.
    pub event_log_bytes: usize,
    /// Seconds a session may stay idle before it ends. Default 1800.
    #[serde(deserialize_with = "duration::secs")]
    pub session_idle_secs: u64,
    /// Seconds a session may take to complete `initialize` (send
    /// `notifications/initialized`) before it is ended. Default 60.
    #[serde(deserialize_with = "duration::secs")]
    pub session_init_timeout_secs: u64,
    /// Longest life of a session in seconds. Default 14400.
    #[serde(deserialize_with = "duration::secs")]
    pub session_max_lifetime_secs: u64,
    /// Seconds a server-to-client request waits for the client. Default 300.
    #[serde(deserialize_with = "duration::secs")]
    pub client_request_timeout_secs: u64,
    /// Seconds in-flight requests get to finish on shutdown. Default 10.
    #[serde(deserialize_with = "duration::secs")]
    pub shutdown_grace_secs: u64,
    /// Host names (without port) accepted in `Host` and `Origin`, besides the
    /// loopback names. Default empty.
    pub allowed_hosts: Vec<String>,
    /// Items per page of the list methods. Default 100.
    pub page_size: usize,
    /// `ttlMs` on stateless list results and `server/discover`. Default 60000.
    #[serde(deserialize_with = "duration::millis")]
    pub list_ttl_ms: u64,
    /// The key that seals `requestState` of `input_required` results, as
    /// base64 or hex of at least 32 bytes. Every node behind one endpoint
    /// needs the same key. Default: none, and a random key is made at start
    /// (retries then only work on the node that sealed the state).
    pub sealing_key: Option<Secret>,
    /// Seconds a sealed `requestState` stays valid. Default 600.
    #[serde(deserialize_with = "duration::secs")]
    pub request_state_ttl_secs: u64,
    /// Seconds a task (its status and result) is kept after it starts.
    /// Default 3600.
    #[serde(deserialize_with = "duration::secs")]
    pub task_ttl_secs: u64,
    /// Tasks one principal (tenant and identity) may hold at once, running
    /// or finished and kept. Default 100.
    pub max_tasks_per_identity: usize,
    /// Largest task result kept, in bytes; a larger one fails the task.
    /// Default 1 MiB.
    pub task_max_result_bytes: usize,
    /// Seconds a node's lease on a task it runs lasts; it renews it every
    /// third of that, and another node takes over a task whose lease ran
    /// out. Default 15.
    #[serde(deserialize_with = "duration::secs")]
    pub task_lease_secs: u64,
    /// Requests running at once (tool calls, reads, prompts, lists) across
    /// every client. Default 512.
    pub max_in_flight: usize,
    /// Requests waiting for a running slot; beyond it, 503 at once.
    /// Default 4096.
    pub max_queue: usize,
    /// Milliseconds a request may wait for a slot before a 503. Default 2000.
    #[serde(deserialize_with = "duration::millis")]
    pub queue_deadline_ms: u64,
    /// Seconds a request may run before it is cancelled and answered with an
    /// error. Default 60.
    #[serde(deserialize_with = "duration::secs")]
    pub request_timeout_secs: u64,
    /// Sessions the server holds at most. Default 100000.
    pub max_sessions: usize,
    /// What a new session meets at `max_sessions`: `reject`, `evict_idle`,
    /// `queue` or `evict_idle_then_queue`. Default `evict_idle_then_queue`.
    pub session_cap_policy: CapPolicy,
    /// Only sessions idle at least this long are evicted. Default 60.
    #[serde(deserialize_with = "duration::secs")]
    pub evict_min_idle_secs: u64,
    /// Milliseconds a new session waits for room under `queue`. Default 2000.
    #[serde(deserialize_with = "duration::millis")]
    pub session_queue_ms: u64,
    /// Sessions one client identity (its address, until authentication) may
    /// hold. Default 2048.
    pub max_sessions_per_identity: usize,
    /// SSE streams one session may hold open at once (GET streams are
    /// refused with 429 beyond it). Default 8.
    pub max_streams_per_session: usize,
    /// Connections the MCP listener holds open at once; past it (and the
    /// probe reserve) a new connection is refused as it is accepted.
    /// Default, and ceiling: the process's open-file limit (`ulimit -n`)
    /// less a reserve of a tenth of it (at least 256, and at least
    /// `probe_connections` + `admin.max_connections` + 64) for the probe
    /// reserve, the admin listener, upstreams, stores and files.
    pub max_connections: Option<usize>,
    /// Connections one client address may hold open at once (addresses in
    /// `per_address_exempt` excepted). Default: half of `max_connections`.
    pub max_connections_per_address: Option<usize>,
    /// Addresses the per-address cap does not apply to (the total cap
    /// does): a same-host proxy, a load balancer. Exact addresses.
    /// Default `["127.0.0.1", "::1"]`.
    pub per_address_exempt: Vec<IpAddr>,
    /// Connections accepted past `max_connections` that may only ask for
    /// `/healthz`, `/health`, `/readyz` and `/metrics` (HTTP/1.1, one
    /// request each; anything else gets 503), so probes and scrapes still
    /// answer at the cap. 0 turns the reserve off. Default 16.
    pub probe_connections: usize,
    /// Bytes one session's stored record may take (its JSON: the client's
    /// `capabilities` and `clientInfo`, its subscriptions, …), in every
    /// store; also the most client capabilities a task keeps. Larger ones
    /// are refused with 400 / -32602. At least 1024. Default 64 KiB.
    pub max_session_bytes: usize,
    /// Bytes the session records of one client identity may take together;
    /// a session that would pass it is refused with 429 / -32005. At least
    /// `max_session_bytes`. Default 16 MiB.
    pub max_session_bytes_per_identity: usize,
    /// Connections per HTTP upstream (alias `MCP_CONNECTION_POOL_SIZE`; used
    /// by the gateway). Default 16.
    pub upstream_pool_size: usize,
    /// Where sessions and event logs live: `memory` (this process, the
    /// default), `file` (the database at `store_path`: one node, survives a
    /// restart) or `redis` (shared by every node with the same `redis_url`
    /// and `redis_prefix`).
    pub store: StoreKind,
    /// The database file of `store = "file"`, created if missing (its
    /// directory must exist). Relative paths are from the working directory.
    /// Default `switchboard.redb`.
    pub store_path: std::path::PathBuf,
    /// The Redis of `store = "redis"` (required then):
    /// `redis://[user:password@]host[:port][/db]` or `redis+unix:///path`;
    /// with `redis_cluster`, the `redis://` URLs of one or more cluster
    /// nodes, comma-separated. Shown with its password redacted. Default:
    /// none.
    pub redis_url: Option<Secret>,
    /// `redis_url` names nodes of a Redis Cluster: keys are spread over its
    /// masters by their hash tags (see docs/deployment.md). Default false.
    pub redis_cluster: bool,
    /// Prepended to every Redis key. Default `switchboard`.
    pub redis_prefix: String,
    /// Milliseconds one Redis call (connecting included) may take before it
    /// fails and the request gets a 503. Default 250.
    #[serde(deserialize_with = "duration::millis")]
    pub redis_timeout_ms: u64,
    /// This node's MCP endpoint as the other nodes reach it
    /// (`http://host:port/mcp`): with `store = "redis"`, a session's calls
    /// to a `per_session` stdio upstream are forwarded to the node owning
    /// its process at this URL. Default: `http://<listen address>/mcp`
    /// (with the bound port); set it when listening on `0.0.0.0`/`[::]`
    /// or behind address translation.
    pub advertise_url: Option<String>,
    /// Milliseconds a node's ownership of a session's `per_session` upstream
    /// process lasts unless renewed (every third of it, while the node
    /// holds the process): how long after a node dies another node takes
    /// its sessions over. Default 10000; at least 300.
    #[serde(deserialize_with = "duration::millis")]
    pub owner_lease_ms: u64,
    /// Reload when the configuration file changes (it is looked at every
    /// second). SIGHUP reloads either way. Default true.
    pub config_watch: bool,
    /// Authentication: anonymous access, JWT issuers, metadata, audit.
    pub auth: AuthConfig,
    /// The admin listener (`[admin]`): address, credential, node id.
    pub admin: AdminConfig,
    /// Trace export (`[telemetry]`).
    pub telemetry: TelemetryConfig,
    /// The tenants sharing this server (`[[tenants]]`).
    pub tenants: Vec<TenantConfig>,
    /// MCP servers put behind this one (`[[upstreams]]`). None: the
    /// built-in `everything` toolset alone.
    pub upstreams: Vec<switchboard_upstream::gateway::UpstreamConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 4 << 20,
            keep_alive_secs: 15,
            sse_retry_ms: 1000,
            stream_buffer: 256,
            event_log_events: 1024,
            event_log_bytes: 1 << 20,
            session_idle_secs: 1800,
            session_init_timeout_secs: 60,
            session_max_lifetime_secs: 4 * 3600,
            client_request_timeout_secs: 300,
            shutdown_grace_secs: 10,
            allowed_hosts: Vec::new(),
            page_size: 100,
            list_ttl_ms: 60_000,
            sealing_key: None,
            request_state_ttl_secs: 600,
            task_ttl_secs: 3600,
            max_tasks_per_identity: 100,
            task_max_result_bytes: 1 << 20,
            task_lease_secs: 15,
            max_in_flight: 512,
            max_queue: 4096,
            queue_deadline_ms: 2000,
            request_timeout_secs: 60,
            max_sessions: 100_000,
            session_cap_policy: CapPolicy::EvictIdleThenQueue,
            evict_min_idle_secs: 60,
            session_queue_ms: 2000,
            max_sessions_per_identity: 2048,
            max_streams_per_session: 8,
            max_connections: None,
            max_connections_per_address: None,
            per_address_exempt: vec![
                IpAddr::from([127, 0, 0, 1]),
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ],
            probe_connections: 16,
            max_session_bytes: 64 << 10,
            max_session_bytes_per_identity: 16 << 20,
            upstream_pool_size: 64,
            store: StoreKind::Memory,
            store_path: "switchboard.redb".into(),
            redis_url: None,
            redis_cluster: false,
            redis_prefix: "switchboard".to_owned(),
            redis_timeout_ms: 250,
            advertise_url: None,
            owner_lease_ms: 10_000,
            config_watch: true,
            auth: AuthConfig::default(),
            admin: AdminConfig::default(),
            telemetry: TelemetryConfig::default(),
            tenants: Vec::new(),
            upstreams: Vec::new(),
        }
    }
}

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid configuration: `{key}` (from {origin}): {message}")]
    Invalid {
        key: String,
        origin: String,
        message: String,
    },
}

impl Config {
    /// Built-in defaults, then `file`, then the `SWITCHBOARD_…` variables of
    /// `env` (and the aliases `MCP_MAX_CONNECTIONS`,
    /// `MCP_CONNECTION_POOL_SIZE`), validated. Errors name the key and the
    /// layer it came from.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        crate::layers::load(file, env)
    }

    /// Parse and validate TOML text alone (no file, no environment).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        config
            .validate()
            .map_err(|(key, message)| format!("{key}: {message}"))?;
        Ok(config)
    }

    /// Check the values are usable; the error names the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let positive = [
            ("max_body_bytes", self.max_body_bytes as u64),
            ("keep_alive_secs", self.keep_alive_secs),
            ("stream_buffer", self.stream_buffer as u64),
            ("event_log_events", self.event_log_events as u64),
            ("session_idle_secs", self.session_idle_secs),
            ("session_init_timeout_secs", self.session_init_timeout_secs),
            ("session_max_lifetime_secs", self.session_max_lifetime_secs),
            (
                "client_request_timeout_secs",
                self.client_request_timeout_secs,
            ),
            ("page_size", self.page_size as u64),
            ("max_in_flight", self.max_in_flight as u64),
            ("request_timeout_secs", self.request_timeout_secs),
            ("max_sessions", self.max_sessions as u64),
            (
                "max_sessions_per_identity",
                self.max_sessions_per_identity as u64,
            ),
            ("upstream_pool_size", self.upstream_pool_size as u64),
            (
                "max_streams_per_session",
                self.max_streams_per_session as u64,
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(((*key).to_owned(), "must be greater than 0".to_owned()));
        }
        self.validate_connections()?;
        self.validate_session_bytes()?;
        store::validate(self)?;
        self.admin.validate()?;
        self.telemetry.validate()?;
        if let Some(key) = &self.sealing_key {
            decode_key(&key.0).map_err(|e| ("sealing_key".to_owned(), e))?;
        }
        let mut names = std::collections::HashSet::new();
        for (i, u) in self.upstreams.iter().enumerate() {
            u.validate()
                .map_err(|(field, message)| (format!("upstreams[{i}].{field}"), message))?;
            if !names.insert(u.name.as_str()) {
                return Err((
                    format!("upstreams[{i}].name"),
                    format!("upstream {:?} is defined twice", u.name),
                ));
            }
        }
        crate::tenant::config::validate(&self.auth, &self.tenants)
    }

    /// The connection caps: positive, and one address's cap within the
    /// total (the ceiling set by the open-file limit is applied at accept).
    fn validate_connections(&self) -> Result<(), (String, String)> {
        for (key, value) in [
            ("max_connections", self.max_connections),
            (
                "max_connections_per_address",
                self.max_connections_per_address,
            ),
        ] {
            if value == Some(0) {
                return Err((key.to_owned(), "must be greater than 0".to_owned()));
            }
        }
        if let (Some(total), Some(one)) = (self.max_connections, self.max_connections_per_address)
            && one > total
        {
            return Err((
                "max_connections_per_address".to_owned(),
                format!("must not exceed max_connections ({total})"),
            ));
        }
        Ok(())
    }

    /// The session byte bounds: room for a bare record, and a budget per
    /// identity that holds at least one session of the largest size.
    fn validate_session_bytes(&self) -> Result<(), (String, String)> {
        if self.max_session_bytes < MIN_SESSION_BYTES {
            return Err((
                "max_session_bytes".to_owned(),
                format!(
                    "must be at least {MIN_SESSION_BYTES} (a session's record takes a few hundred bytes before the client's capabilities)"
                ),
            ));
        }
        if self.max_session_bytes_per_identity < self.max_session_bytes {
            return Err((
                "max_session_bytes_per_identity".to_owned(),
                format!(
                    "must be at least max_session_bytes ({})",
                    self.max_session_bytes
                ),
            ));
        }
        Ok(())
    }

    /// The sealing key's bytes, if one is configured.
    pub fn sealing_key_bytes(&self) -> Result<Option<Vec<u8>>, String> {
        self.sealing_key
            .as_ref()
            .map(|k| decode_key(&k.0))
            .transpose()
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        if shown.sealing_key.is_some() {
            shown.sealing_key = Some(Secret("<redacted>".into()));
        }
        if let Some(url) = &shown.redis_url {
            shown.redis_url = Some(Secret(redact_url(&url.0)));
        }
        if let Some(url) = &shown.telemetry.otlp_endpoint {
            shown.telemetry.otlp_endpoint = Some(redact_url(url));
        }
        for jwt in &mut shown.auth.jwt {
            if jwt.hs256_secret.is_some() {
                jwt.hs256_secret = Some("<redacted>".into());
            }
        }
        toml::to_string(&shown)
            .unwrap_or_else(|e| format!("# cannot show the configuration: {e}\n"))
    }

    pub fn keep_alive(&self) -> Duration {
        Duration::from_secs(self.keep_alive_secs)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    pub fn queue_deadline(&self) -> Duration {
        Duration::from_millis(self.queue_deadline_ms)
    }

    pub fn owner_lease(&self) -> Duration {
        Duration::from_millis(self.owner_lease_ms)
    }

    pub fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms)
    }

    pub fn client_request_timeout(&self) -> Duration {
        Duration::from_secs(self.client_request_timeout_secs)
    }
}

/// A secret string: read and written as itself, shown by `Debug` as
/// `<redacted>` so it never reaches a log by accident.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Durations given as a number (of the field's unit) or as text with a
/// unit: `500ms`, `30s`, `15m`, `4h`, `1d`.
mod duration {
    use serde::{Deserialize, Deserializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
    }

    fn parse<'de, D: Deserializer<'de>>(d: D, unit_ms: u64) -> Result<u64, D::Error> {
        let text = match Raw::deserialize(d)? {
            Raw::Number(n) => return Ok(n),
            Raw::Text(t) => t,
        };
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let factor_ms: Option<u64> = match unit.trim() {
            "ms" => Some(1),
            "s" => Some(1_000),
            "m" => Some(60_000),
            "h" => Some(3_600_000),
            "d" => Some(86_400_000),
            _ => None,
        };
        let value = digits
            .parse::<u64>()
            .ok()
            .zip(factor_ms)
            .and_then(|(n, f)| n.checked_mul(f))
            .filter(|ms| ms % unit_ms == 0)
            .map(|ms| ms / unit_ms)
            // No more than a TOML number can say, so it can be written back.
            .filter(|v| i64::try_from(*v).is_ok());
        value.ok_or_else(|| {
            D::Error::custom(format!(
                "invalid duration {text:?}: expected a number or a value like 500ms, 30s, 15m, 4h"
            ))
        })
    }

    pub(super) fn secs<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        parse(d, 1_000)
    }

    pub(super) fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        parse(d, 1)
    }
}

/// A key given as hex or base64 (standard or URL-safe), at least 32 bytes.
fn decode_key(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let text = text.trim();
    let hex = || -> Option<Vec<u8>> {
        (text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit())).then(|| {
            (0..text.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
                .collect()
        })
    };
    let bytes = hex()
        .or_else(|| STANDARD.decode(text).ok())
        .or_else(|| URL_SAFE_NO_PAD.decode(text).ok())
        .ok_or("sealing_key must be hex or base64")?;
    if bytes.len() < 32 {
        return Err(format!(
            "sealing_key must be at least 32 bytes, got {}",
            bytes.len()
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_default_and_errors_name_the_key() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.max_body_bytes, 4 << 20);
        assert_eq!(c.admin.listen.to_string(), "127.0.0.1:8081");
        assert!(c.admin.token_sha256.is_none());
        let e = Config::from_toml("no_such_key = 1").unwrap_err();
        assert!(e.contains("no_such_key"), "{e}");
        let e = Config::from_toml("page_size = 0").unwrap_err();
        assert!(e.contains("page_size"), "{e}");
        let e = Config::from_toml("sealing_key = \"abcd\"").unwrap_err();
        assert!(e.contains("sealing_key"), "{e}");
        let key = "00".repeat(32);
        let c = Config::from_toml(&format!("sealing_key = \"{key}\"")).unwrap();
        assert_eq!(c.sealing_key_bytes().unwrap().unwrap(), vec![0u8; 32]);
        assert!(!format!("{c:?}").contains(&key), "Debug shows no secret");
        let e = Config::from_toml("keep_alive_secs = \"x\"").unwrap_err();
        assert!(e.contains("keep_alive_secs"), "{e}");
    }

    #[test]
    fn session_byte_bounds_are_validated() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.max_session_bytes, 64 << 10);
        assert_eq!(c.max_session_bytes_per_identity, 16 << 20);
        let e = Config::from_toml("max_session_bytes = 1000").unwrap_err();
        assert!(e.contains("max_session_bytes"), "{e}");
        let e =
            Config::from_toml("max_session_bytes = 8192\nmax_session_bytes_per_identity = 4096")
                .unwrap_err();
        assert!(e.contains("max_session_bytes_per_identity"), "{e}");
        let c =
            Config::from_toml("max_session_bytes = 8192\nmax_session_bytes_per_identity = 8192")
                .unwrap();
        assert_eq!(c.max_session_bytes_per_identity, 8192);
    }

    #[test]
    fn tenants_are_validated() {
        let ok = format!(
            "[[tenants]]\nid = \"acme\"\napi_keys = [{{ id = \"ci\", sha256 = \"{}\" }}]\nrate = {{ per_second = 5, burst = 10 }}\n",
            "ab".repeat(32)
        );
        let c = Config::from_toml(&ok).unwrap();
        assert_eq!(c.tenants[0].rate.unwrap().burst, 10);
        for (bad, key) in [
            ("[[tenants]]\nid = \"a b\"", "tenants[0].id"),
            (
                "[[tenants]]\nid = \"a\"\n[[tenants]]\nid = \"a\"",
                "tenants[1].id",
            ),
            (
                "[[tenants]]\nid = \"a\"\napi_keys = [{ id = \"k\", sha256 = \"abc\" }]",
                "tenants[0].api_keys[0].sha256",
            ),
            ("[[tenants]]\nid = \"a\"\nweight = 0", "tenants[0].weight"),
            (
                "[[tenants]]\nid = \"a\"\nrate = { per_second = 0, burst = 1 }",
                "tenants[0].rate",
            ),
            (
                "[[tenants]]\nid = \"a\"\nmax_sessions = 0",
                "tenants[0].max_sessions",
            ),
            ("[[auth.jwt]]\nissuer = \"x\"", "auth.jwt[0]"),
            ("[auth]\nanonymous = \"sometimes\"", "anonymous"),
            ("[admin]\ntoken_sha256 = \"abc\"", "admin.token_sha256"),
            ("[admin]\nnode_id = \"a b\"", "admin.node_id"),
            (
                "[auth]\nmetrics_token_sha256 = \"xyz\"",
                "auth.metrics_token_sha256",
            ),
        ] {
            let e = Config::from_toml(bad).unwrap_err();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }
}
