//! The whole configuration (`Config`): every key, its default, and the
//! ways to read it back (durations, the sealing key, the redacted TOML).
//! Loading from layers is `layers.rs`; checking the values, `validate.rs`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::admin::AdminConfig;
use crate::cap_policy::CapPolicy;
use crate::secret::{Secret, decode_key};
use crate::store::{StoreKind, redact_url};
use crate::telemetry::TelemetryConfig;
use crate::tenants::{AuthConfig, TenantConfig};

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
    #[serde(deserialize_with = "crate::duration::secs")]
    pub keep_alive_secs: u64,
    /// The `retry:` hint, in milliseconds, sent with priming events. Default 1000.
    #[serde(deserialize_with = "crate::duration::millis")]
    pub sse_retry_ms: u64,
    /// Events buffered per open stream before a slow reader is cut off (it
    /// resumes from the event log). Default 256.
    pub stream_buffer: usize,
    /// Events kept per session for resumption. Default 1024.
    pub event_log_events: usize,
    /// Bytes of events kept per session for resumption. Default 1 MiB.
    pub event_log_bytes: usize,
    /// Seconds a session may stay idle before it ends. Default 1800.
    #[serde(deserialize_with = "crate::duration::secs")]
    pub session_idle_secs: u64,
    /// Seconds a session may take to complete `initialize` (send
    /// `notifications/initialized`, or any request) before it is ended.
    /// Default 60.
    #[serde(deserialize_with = "crate::duration::secs")]
    pub session_init_timeout_secs: u64,
    /// Longest life of a session in seconds. Default 14400.
    #[serde(deserialize_with = "crate::duration::secs")]
    pub session_max_lifetime_secs: u64,
    /// Seconds a server-to-client request waits for the client. Default 300.
    #[serde(deserialize_with = "crate::duration::secs")]
    pub client_request_timeout_secs: u64,
    /// Seconds in-flight requests get to finish on shutdown. Default 10.
    #[serde(deserialize_with = "crate::duration::secs")]
    pub shutdown_grace_secs: u64,
    /// Host names (without port) accepted in `Host` and `Origin`, besides the
    /// loopback names. Default empty.
    pub allowed_hosts: Vec<String>,
    /// Items per page of the list methods. Default 100.
    pub page_size: usize,
    /// `ttlMs` on stateless list results and `server/discover`. Default 60000.
    #[serde(deserialize_with = "crate::duration::millis")]
    pub list_ttl_ms: u64,
    /// The key that seals `requestState` of `input_required` results, as
    /// base64 or hex of at least 32 bytes. Every node behind one endpoint
    /// needs the same key. Default: none, and a random key is made at start
    /// (retries then only work on the node that sealed the state).
    pub sealing_key: Option<Secret>,
    /// Seconds a sealed `requestState` stays valid. Default 600.
    #[serde(deserialize_with = "crate::duration::secs")]
    pub request_state_ttl_secs: u64,
    /// Seconds a task (its status and result) is kept after it starts.
    /// Default 3600.
    #[serde(deserialize_with = "crate::duration::secs")]
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
    #[serde(deserialize_with = "crate::duration::secs")]
    pub task_lease_secs: u64,
    /// Requests running at once (tool calls, reads, prompts, lists) across
    /// every client. Default 512.
    pub max_in_flight: usize,
    /// Requests waiting for a running slot; beyond it, 503 at once. At
    /// arrival, the requests in hand are capped at `max_in_flight +
    /// max_queue`, and at `max_in_flight` plus those waiting for a slot
    /// while a queue stands in front of free slots (see
    /// `switchboard_limits::Arrivals`). Default 4096.
    pub max_queue: usize,
    /// Milliseconds a request may wait for a slot before a 503. Default 2000.
    #[serde(deserialize_with = "crate::duration::millis")]
    pub queue_deadline_ms: u64,
    /// Shed at arrival while the runtime's scheduling delay (how late a
    /// timer-woken task runs: the wait of every request in the queue in
    /// front of the handlers) is over this many milliseconds: requests that
    /// no running handler needs are refused with 503 before their body is
    /// read. 0 (the default) turns this off; the admission check at arrival
    /// stays on.
    #[serde(deserialize_with = "crate::duration::millis")]
    pub shed_delay_ms: u64,
    /// Seconds a request may run before it is cancelled and answered with an
    /// error. Default 60.
    #[serde(deserialize_with = "crate::duration::secs")]
    pub request_timeout_secs: u64,
    /// Sessions the server holds at most. Default 100000.
    pub max_sessions: usize,
    /// What a new session meets at `max_sessions`: `reject`, `evict_idle`,
    /// `queue` or `evict_idle_then_queue`. Default `evict_idle_then_queue`.
    pub session_cap_policy: CapPolicy,
    /// Only sessions idle at least this long are evicted. Default 60.
    #[serde(deserialize_with = "crate::duration::secs")]
    pub evict_min_idle_secs: u64,
    /// Milliseconds a new session waits for room under `queue`. Default 2000.
    #[serde(deserialize_with = "crate::duration::millis")]
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
    #[serde(deserialize_with = "crate::duration::millis")]
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
    #[serde(deserialize_with = "crate::duration::millis")]
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
    /// The token vault's keys (`[vault]`).
    pub vault: crate::vault::VaultConfig,
    /// The tenants sharing this server (`[[tenants]]`).
    pub tenants: Vec<TenantConfig>,
    /// MCP servers put behind this one (`[[upstreams]]`). None: the
    /// built-in `everything` toolset alone.
    pub upstreams: Vec<switchboard_upstream::gateway::UpstreamConfig>,
    /// Rules in CEL over a request's arguments and its caller
    /// (`[[policies]]`). None: only the tenants' name rules apply.
    pub policies: Vec<crate::policies::PolicyConfig>,
    /// The redactor of secrets in results (`[redact]`).
    pub redact: crate::redact::RedactConfig,
    /// Virtual servers: more endpoints, each with a curated catalog
    /// (`[[servers]]`).
    pub servers: Vec<crate::servers::ServerConfig>,
    /// Guardrail hooks on tool calls (`[[hooks]]`).
    pub hooks: Vec<crate::hooks::HookConfig>,
    /// Switchboard as the authorization server of its own endpoint
    /// (`[oauth]`). None: tokens come from the issuers of `[[auth.jwt]]`.
    pub oauth: Option<switchboard_oauth::OAuthConfig>,
    /// A JSON file of MCP servers in the `mcpServers` format of MCP
    /// clients (Claude Desktop, Cursor, VS Code), added as `[[upstreams]]`
    /// when the configuration is read (and re-read on reload). Not written
    /// back out: its servers are, as upstreams.
    #[serde(skip_serializing)]
    pub mcp_config: Option<std::path::PathBuf>,
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
            shed_delay_ms: 0,
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
            vault: crate::vault::VaultConfig::default(),
            tenants: Vec::new(),
            upstreams: Vec::new(),
            policies: Vec::new(),
            redact: crate::redact::RedactConfig::default(),
            servers: Vec::new(),
            hooks: Vec::new(),
            oauth: None,
            mcp_config: None,
        }
    }
}

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file, as given.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A value is missing, of the wrong type or out of range.
    #[error("invalid configuration: `{key}` (from {origin}): {message}")]
    Invalid {
        /// The dotted key (`tenants[0].id`, `admin.listen`); empty when the
        /// error is not about one key.
        key: String,
        /// The layer the value came from: the file, an environment
        /// variable, or `built-in default`.
        origin: String,
        /// What is wrong with it.
        message: String,
    },
}

impl Config {
    /// Parse and validate TOML text alone (no file, no environment).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        config
            .validate()
            .map_err(|(key, message)| format!("{key}: {message}"))?;
        Ok(config)
    }

    /// The sealing key's bytes, if one is configured.
    pub fn sealing_key_bytes(&self) -> Result<Option<Vec<u8>>, String> {
        self.sealing_key
            .as_ref()
            .map(|k| decode_key(k.expose()))
            .transpose()
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        if let Some(url) = &shown.telemetry.otlp_endpoint {
            shown.telemetry.otlp_endpoint = Some(redact_url(url));
        }
        // Every secret writes itself out as its reference or `<redacted>`;
        // an inline Redis URL is shown less its password.
        let written = match self.redis_url.as_ref().filter(|u| u.is_inline()) {
            None => toml::to_string(&shown),
            Some(url) => toml::Table::try_from(&shown).and_then(|mut table| {
                table.insert("redis_url".into(), redact_url(url.expose()).into());
                toml::to_string(&table)
            }),
        };
        written.unwrap_or_else(|e| format!("# cannot show the configuration: {e}\n"))
    }

    /// `keep_alive_secs` as a duration.
    pub fn keep_alive(&self) -> Duration {
        Duration::from_secs(self.keep_alive_secs)
    }

    /// `request_timeout_secs` as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// `queue_deadline_ms` as a duration.
    pub fn queue_deadline(&self) -> Duration {
        Duration::from_millis(self.queue_deadline_ms)
    }

    /// `owner_lease_ms` as a duration.
    pub fn owner_lease(&self) -> Duration {
        Duration::from_millis(self.owner_lease_ms)
    }

    /// `redis_timeout_ms` as a duration.
    pub fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms)
    }

    /// `client_request_timeout_secs` as a duration.
    pub fn client_request_timeout(&self) -> Duration {
        Duration::from_secs(self.client_request_timeout_secs)
    }
}
