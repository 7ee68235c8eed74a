//! Virtual servers compiled from `[[servers]]`: which endpoint, what it
//! says it is, what it serves and to whom; and [`Curated`], the caller's
//! access narrowed to a server's set, which every catalog method already
//! asks (lists, calls, reads, prompts, completions, subscriptions), in
//! every era.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_config::{CompiledOverride, ServerConfig, glob};
use switchboard_proto::RpcError;
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
    /// Tool overrides, and where to find them: by the catalog's name and
    /// by the name clients see.
    overrides: Vec<CompiledOverride>,
    by_tool: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
    search: bool,
}

/// What a name a client of a server calls stands for.
enum Called<'a> {
    /// A tool it sees as it is.
    Plain,
    /// A tool it sees otherwise.
    Overridden(&'a CompiledOverride),
    /// The catalog's name of a tool it sees under another name: unknown
    /// to it.
    Hidden,
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
            // Checked when the configuration was read.
            overrides: c
                .overrides
                .iter()
                .filter_map(|o| o.compile().ok())
                .collect(),
            by_tool: c
                .overrides
                .iter()
                .enumerate()
                .map(|(i, o)| (o.tool.clone(), i))
                .collect(),
            by_name: c
                .overrides
                .iter()
                .enumerate()
                .map(|(i, o)| (o.client_name().to_owned(), i))
                .collect(),
            search: c.search,
        }
    }

    fn called(&self, name: &str) -> Called<'_> {
        if let Some(&i) = self.by_name.get(name) {
            return Called::Overridden(&self.overrides[i]);
        }
        match self.by_tool.get(name) {
            Some(_) => Called::Hidden,
            None => Called::Plain,
        }
    }

    /// The catalog's name of the tool a client of this server calls
    /// `name` (scopes and tool rates are the tool's own); `None` for a
    /// name it does not know.
    pub fn original_tool<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        match self.called(name) {
            Called::Plain => Some(name),
            Called::Overridden(o) => Some(&o.spec.tool),
            Called::Hidden => None,
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
            "overrides": self.overrides.iter().map(|o| &*o.spec).collect::<Vec<_>>(),
            "search": self.search,
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
    fn searches(&self) -> bool {
        self.server.search
    }
    fn guards(&self) -> bool {
        self.inner.guards()
    }
    fn guard<'a>(
        &'a self,
        stage: switchboard_runtime::Stage,
        call: switchboard_runtime::GuardedCall<'a>,
        report: &'a (dyn Fn(&str, switchboard_runtime::Stage, &'static str) + Sync),
    ) -> switchboard_runtime::BoxFuture<'a, Result<Option<Value>, Refusal>> {
        self.inner.guard(stage, call, report)
    }
    fn rewrites(&self) -> bool {
        !self.server.overrides.is_empty()
    }
    fn rewrite_call(
        &self,
        name: &str,
        arguments: Option<&RawValue>,
    ) -> Result<Option<(String, Value)>, RpcError> {
        match self.server.called(name) {
            Called::Plain => Ok(None),
            Called::Hidden => Err(RpcError::invalid_params(format!("unknown tool: {name}"))),
            Called::Overridden(o) => {
                let given = arguments
                    .map(|a| serde_json::from_str::<Value>(a.get()))
                    .transpose()
                    .map_err(|e| RpcError::invalid_params(format!("tools/call: arguments: {e}")))?;
                let args = o
                    .arguments(given)
                    .map_err(|e| RpcError::invalid_params(format!("{name}: {}", e.0)))?;
                Ok(Some((o.spec.tool.clone(), args)))
            }
        }
    }
    fn present_tool(&self, definition: &mut Value) {
        let Some(&i) = definition
            .get("name")
            .and_then(Value::as_str)
            .and_then(|n| self.server.by_tool.get(n))
        else {
            return;
        };
        self.server.overrides[i].present(definition);
    }
}
