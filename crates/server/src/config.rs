//! Server configuration: typed, with defaults, read from TOML.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// Everything the HTTP front needs to know. Every field has a default, so an
/// empty file is a valid configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Largest request body in bytes; larger ones get 413. Default 4 MiB.
    pub max_body_bytes: usize,
    /// Seconds between SSE keep-alive comments on an idle stream. Default 15.
    pub keep_alive_secs: u64,
    /// The `retry:` hint, in milliseconds, sent with priming events. Default 1000.
    pub sse_retry_ms: u64,
    /// Events buffered per open stream before a slow reader is cut off (it
    /// resumes from the event log). Default 256.
    pub stream_buffer: usize,
    /// Events kept per session for resumption. Default 1024.
    pub event_log_events: usize,
    /// Bytes of events kept per session for resumption. Default 1 MiB.
    pub event_log_bytes: usize,
    /// Seconds a session may stay idle before it ends. Default 1800.
    pub session_idle_secs: u64,
    /// Longest life of a session in seconds. Default 14400.
    pub session_max_lifetime_secs: u64,
    /// Seconds a server-to-client request waits for the client. Default 300.
    pub client_request_timeout_secs: u64,
    /// Seconds in-flight requests get to finish on shutdown. Default 10.
    pub shutdown_grace_secs: u64,
    /// Host names (without port) accepted in `Host` and `Origin`, besides the
    /// loopback names. Default empty.
    pub allowed_hosts: Vec<String>,
    /// Items per page of the list methods. Default 100.
    pub page_size: usize,
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
            session_max_lifetime_secs: 4 * 3600,
            client_request_timeout_secs: 300,
            shutdown_grace_secs: 10,
            allowed_hosts: Vec::new(),
            page_size: 100,
        }
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Config {
    /// Read and validate a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Invalid {
            path: shown,
            message,
        })
    }

    /// Parse and validate TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// Check the values are usable.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("max_body_bytes", self.max_body_bytes as u64),
            ("keep_alive_secs", self.keep_alive_secs),
            ("stream_buffer", self.stream_buffer as u64),
            ("event_log_events", self.event_log_events as u64),
            ("session_idle_secs", self.session_idle_secs),
            ("session_max_lifetime_secs", self.session_max_lifetime_secs),
            (
                "client_request_timeout_secs",
                self.client_request_timeout_secs,
            ),
            ("page_size", self.page_size as u64),
        ];
        match positive.iter().find(|(_, v)| *v == 0) {
            Some((key, _)) => Err(format!("{key} must be greater than 0")),
            None => Ok(()),
        }
    }

    pub fn keep_alive(&self) -> Duration {
        Duration::from_secs(self.keep_alive_secs)
    }

    pub fn client_request_timeout(&self) -> Duration {
        Duration::from_secs(self.client_request_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_default_and_errors_name_the_key() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.max_body_bytes, 4 << 20);
        let e = Config::from_toml("no_such_key = 1").unwrap_err();
        assert!(e.contains("no_such_key"), "{e}");
        let e = Config::from_toml("page_size = 0").unwrap_err();
        assert!(e.contains("page_size"), "{e}");
        let e = Config::from_toml("keep_alive_secs = \"x\"").unwrap_err();
        assert!(e.contains("keep_alive_secs"), "{e}");
    }
}
