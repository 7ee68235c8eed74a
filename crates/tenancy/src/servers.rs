//! Virtual servers compiled from `[[servers]]`: which endpoint, what it
//! says it is, what it serves and to whom; and [`Curated`], the caller's
//! access narrowed to a server's set, which every catalog method already
//! asks (lists, calls, reads, prompts, completions, subscriptions), in
//! every era.

use std::sync::Arc;

use serde_json::Value;
use switchboard_config::{ServerConfig, glob};
use switchboard_runtime::{Access, Judged, Refusal, ServerInfo};

/// One virtual server.
#[derive(Debug)]
pub struct VirtualServer {
    /// Its name: the endpoint is `/mcp/<name>`.
    pub name: Arc<str>,
    /// What `initialize` and `server/discover` say it is.
    pub info: ServerInfo,
    /// Host names whose `/mcp` is this server.
    pub hosts: Vec<String>,
    tools: Vec<String>,
    resources: Vec<String>,
    prompts: Vec<String>,
    tenants: Vec<String>,
}

impl VirtualServer {
    pub(crate) fn new(c: &ServerConfig) -> Self {
        let base = ServerInfo::default();
        Self {
            name: Arc::from(c.name.as_str()),
            info: ServerInfo {
                name: c.name.clone(),
                title: Some(c.title.clone().unwrap_or_else(|| c.name.clone())),
                version: c.version.clone().unwrap_or(base.version),
                instructions: c.instructions.clone(),
            },
            hosts: c.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            tools: c.tools.clone(),
            resources: c.resources.clone(),
            prompts: c.prompts.clone(),
            tenants: c.tenants.clone(),
        }
    }

    /// Its endpoint's path.
    pub fn path(&self) -> String {
        format!("/mcp/{}", self.name)
    }

    /// Whether `tenant` may use it.
    pub fn admits(&self, tenant: &str) -> bool {
        self.tenants.is_empty() || self.tenants.iter().any(|t| t == tenant)
    }

    /// What the admin API shows of it.
    pub fn describe(&self) -> Value {
        serde_json::json!({
            "name": &*self.name,
            "path": self.path(),
            "title": self.info.title,
            "version": self.info.version,
            "hosts": self.hosts,
            "tools": self.tools,
            "resources": self.resources,
            "prompts": self.prompts,
            "tenants": self.tenants,
        })
    }
}

fn any(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| glob(p, name))
}

/// A caller's access narrowed to what a virtual server serves; its
/// judging and redacting are the tenant's.
#[derive(Debug)]
pub struct Curated {
    pub(crate) inner: Arc<dyn Access>,
    pub(crate) server: Arc<VirtualServer>,
}

impl Access for Curated {
    fn tool(&self, name: &str) -> bool {
        any(&self.server.tools, name) && self.inner.tool(name)
    }
    fn resource(&self, uri: &str) -> bool {
        any(&self.server.resources, uri) && self.inner.resource(uri)
    }
    fn prompt(&self, name: &str) -> bool {
        any(&self.server.prompts, name) && self.inner.prompt(name)
    }
    fn judges(&self) -> bool {
        self.inner.judges()
    }
    fn judge(&self, request: &Judged<'_>) -> Result<(), Refusal> {
        self.inner.judge(request)
    }
    fn redact(&self, result: &mut Value) -> Vec<Arc<str>> {
        self.inner.redact(result)
    }
}
