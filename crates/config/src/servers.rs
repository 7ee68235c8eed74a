//! `[[servers]]`: virtual servers — more MCP endpoints on one Switchboard
//! (`/mcp/<name>`, or `/mcp` for the hosts they name), each serving a
//! curated set of the catalog's tools, resources and prompts, with its own
//! server info and instructions, to the tenants it names.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// One `[[servers]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Its endpoint is `/mcp/<name>`: 1-64 lowercase letters, digits, `-`
    /// or `_`.
    pub name: String,
    /// `serverInfo.title`. Default: the name.
    pub title: Option<String>,
    /// `serverInfo.version`. Default: Switchboard's.
    pub version: Option<String>,
    /// `instructions` for the client's model. Default: none.
    pub instructions: Option<String>,
    /// Host names (without port) whose requests to `/mcp` go to this
    /// server.
    pub hosts: Vec<String>,
    /// Tools it serves: globs of the names clients see (upstreams'
    /// prefixes included). Default: none.
    pub tools: Vec<String>,
    /// Resources it serves: globs of URIs (and templates' `uriTemplate`).
    pub resources: Vec<String>,
    /// Prompts it serves: globs of names.
    pub prompts: Vec<String>,
    /// The tenants that may use it. Default: every tenant.
    pub tenants: Vec<String>,
    /// How it presents some of its tools (`[[servers.overrides]]`).
    pub overrides: Vec<crate::overrides::ToolOverride>,
    /// Progressive discovery: `tools/list` lists only `search_tools`,
    /// which finds the server's tools by words; every tool stays callable
    /// by name. Default off.
    pub search: bool,
}

/// Words a server's name cannot be (paths below `/mcp/<name>`).
const RESERVED: [&str; 2] = ["sse", "messages"];

/// Every entry valid, no name or host twice, only configured tenants.
pub(crate) fn validate(
    servers: &[ServerConfig],
    tenants: &HashSet<&str>,
) -> Result<(), (String, String)> {
    let mut names = HashSet::new();
    let mut hosts = HashSet::new();
    for (i, s) in servers.iter().enumerate() {
        let key = |k: &str| format!("servers[{i}].{k}");
        let valid = !s.name.is_empty()
            && s.name.len() <= 64
            && s.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_".contains(&b))
            && !RESERVED.contains(&s.name.as_str());
        if !valid {
            return Err((
                key("name"),
                format!(
                    "{:?}: use 1-64 lowercase letters, digits, '-' or '_' (not sse or messages)",
                    s.name
                ),
            ));
        }
        if !names.insert(s.name.as_str()) {
            return Err((key("name"), format!("server {:?} is defined twice", s.name)));
        }
        if let Some(h) = s
            .hosts
            .iter()
            .find(|h| !hosts.insert(h.to_ascii_lowercase()))
        {
            return Err((key("hosts"), format!("host {h:?} names two servers")));
        }
        if let Some(t) = s.tenants.iter().find(|t| !tenants.contains(t.as_str())) {
            return Err((key("tenants"), format!("no tenant {t:?} is configured")));
        }
        crate::overrides::validate(&s.overrides).map_err(|(k, m)| (key(&k), m))?;
    }
    Ok(())
}
