//! `[[upstreams]]`: the MCP servers put behind Switchboard.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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

/// One `[[upstreams]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Its name: in logs, metrics and the default prefix.
    pub name: String,
    pub kind: UpstreamKind,
    /// The program (stdio).
    pub command: String,
    /// The MCP endpoint (http), e.g. `https://mcp.example.com/mcp`.
    pub url: String,
    /// `auto` (default), `session` or `stateless`: see [`UpstreamProtocol`].
    pub protocol: UpstreamProtocol,
    /// Headers sent to an HTTP upstream: its own credentials (a client's
    /// token is never passed on).
    pub headers: BTreeMap<String, String>,
    /// Idle connections kept per HTTP upstream host. Default: the
    /// server's `upstream_pool_size`.
    pub pool_size: Option<usize>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    /// Put before its tools' names; default `<name>__`; may be empty.
    pub prefix: Option<String>,
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
            _ => Ok(()),
        }
    }
}
