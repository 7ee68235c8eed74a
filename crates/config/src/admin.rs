//! `[admin]`: the operators' listener (admin API and dashboard) and its
//! credential.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// The admin listener. Without `token_sha256` it is not started.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of the admin listener. Default `127.0.0.1:8081`.
    pub listen: SocketAddr,
    /// Lowercase or uppercase hex SHA-256 of the admin token (what
    /// `switchboard keys new --admin` prints). Default: none, and the admin
    /// listener is not started. May be a secret reference
    /// (`{ file = "/run/secrets/admin-digest" }`).
    pub token_sha256: Option<Secret>,
    /// This node's name in the admin API (the owner of its sessions).
    /// Default: `<hostname>-<pid>`.
    pub node_id: Option<String>,
    /// Host names (without port) accepted in `Host` and `Origin` on the
    /// admin listener, besides the loopback names. Default: none.
    pub allowed_hosts: Vec<String>,
    /// Connections the admin listener holds open at once; past it a new
    /// one is refused as it is accepted (its descriptors are kept out of
    /// the MCP listener's `max_connections`). Default 32.
    pub max_connections: usize,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            token_sha256: None,
            node_id: None,
            allowed_hosts: Vec::new(),
            max_connections: 32,
        }
    }
}

impl AdminConfig {
    /// Check the digest and the node id; the error names the key.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        if self.max_connections == 0 {
            return Err((
                "admin.max_connections".into(),
                "must be greater than 0".into(),
            ));
        }
        if let Some(d) = self.token_sha256.as_ref().map(Secret::expose)
            && !(d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err((
                "admin.token_sha256".into(),
                "must be the 64 hex digits of a SHA-256 digest (see `switchboard keys new --admin`)"
                    .into(),
            ));
        }
        if let Some(id) = &self.node_id
            && (id.is_empty()
                || id.len() > 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        {
            return Err((
                "admin.node_id".into(),
                "must be 1 to 64 letters, digits, '-', '_' or '.'".into(),
            ));
        }
        Ok(())
    }

    /// The node id: the configured one, else `<hostname>-<pid>`.
    pub fn node_id(&self) -> String {
        if let Some(id) = &self.node_id {
            return id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "node".to_owned());
        format!("{host}-{}", std::process::id())
    }
}
