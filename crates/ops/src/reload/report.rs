//! What a reload changed ([`ReloadReport`]), and its one-line summary.

use std::fmt;

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Top-level keys whose new values are in effect.
    pub applied: Vec<String>,
    /// Keys that changed but are only read at start-up: the running value
    /// stays until a restart.
    pub needs_restart: Vec<String>,
    /// Tenants added.
    pub tenants_added: Vec<String>,
    /// Tenants removed (their sessions on this node end).
    pub tenants_removed: Vec<String>,
    /// Tenants whose settings changed.
    pub tenants_changed: Vec<String>,
    /// Upstreams added (started).
    pub upstreams_added: Vec<String>,
    /// Upstreams removed (their processes end).
    pub upstreams_removed: Vec<String>,
    /// Upstreams whose settings changed (ended and started afresh).
    pub upstreams_changed: Vec<String>,
    /// Sessions on this node ended because their tenant is gone.
    pub sessions_ended: usize,
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = [
            ("applied", &self.applied),
            ("tenants added", &self.tenants_added),
            ("tenants removed", &self.tenants_removed),
            ("tenants changed", &self.tenants_changed),
            ("upstreams added", &self.upstreams_added),
            ("upstreams removed", &self.upstreams_removed),
            ("upstreams changed", &self.upstreams_changed),
            ("needs a restart", &self.needs_restart),
        ];
        let shown: Vec<String> = parts
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}: {}", v.join(", ")))
            .collect();
        if shown.is_empty() {
            return f.write_str("nothing changed");
        }
        write!(f, "{}", shown.join("; "))?;
        if self.sessions_ended > 0 {
            write!(f, "; sessions ended: {}", self.sessions_ended)?;
        }
        Ok(())
    }
}
