//! The catalog: every tool, resource, template and prompt one server offers.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::{Value, json};
use switchboard_proto::RpcError;

use crate::context::Extensions;
use crate::cursor;
use crate::events::{EventBus, LocalBus};
use crate::prompt::Prompt;
use crate::resource::{Resource, ResourceTemplate};
use crate::tool::Tool;

/// Who the server says it is in `initialize`.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// The server's name (`serverInfo.name`).
    pub name: String,
    /// A name for people, if it has one.
    pub title: Option<String>,
    /// The server's version.
    pub version: String,
    /// How to use the server, for the client's model (`instructions`).
    pub instructions: Option<String>,
}

impl Default for ServerInfo {
    fn default() -> Self {
        Self {
            name: "switchboard".into(),
            title: Some("Switchboard".into()),
            version: env!("CARGO_PKG_VERSION").into(),
            instructions: None,
        }
    }
}

/// A set of tools, resources and prompts, in registration order, fixed at
/// build time; its providers (upstreams) can be added and removed while it
/// serves (a configuration reload), read with one atomic load per use.
#[derive(Debug)]
pub struct Catalog {
    pub(crate) info: ServerInfo,
    pub(crate) tools: Vec<Tool>,
    pub(crate) tool_index: Index,
    pub(crate) resources: Vec<Resource>,
    pub(crate) resource_index: Index,
    pub(crate) templates: Vec<ResourceTemplate>,
    pub(crate) prompts: Vec<Prompt>,
    pub(crate) prompt_index: Index,
    pub(crate) page_size: usize,
    pub(crate) extensions: Extensions,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) providers: ArcSwap<Vec<Arc<dyn crate::Provider>>>,
    /// Where policy refusals are reported, once the server says.
    pub(crate) decisions: arc_swap::ArcSwapOption<Arc<dyn crate::caller::DecisionObserver>>,
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Extensions")
    }
}

/// Builds a [`Catalog`].
#[derive(Debug, Default)]
pub struct CatalogBuilder {
    info: ServerInfo,
    tools: Vec<Tool>,
    resources: Vec<Resource>,
    templates: Vec<ResourceTemplate>,
    prompts: Vec<Prompt>,
    page_size: Option<usize>,
    extensions: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    bus: Option<Arc<dyn EventBus>>,
    providers: Vec<Arc<dyn crate::Provider>>,
}

impl CatalogBuilder {
    /// An empty catalog, with the default [`ServerInfo`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Say who the server is in `initialize`.
    pub fn info(mut self, info: ServerInfo) -> Self {
        self.info = info;
        self
    }

    /// Add a tool.
    pub fn tool(mut self, tool: Tool) -> Self {
        self.tools.push(tool);
        self
    }

    /// Add a resource.
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resources.push(resource);
        self
    }

    /// Add a resource template.
    pub fn template(mut self, template: ResourceTemplate) -> Self {
        self.templates.push(template);
        self
    }

    /// Add a prompt.
    pub fn prompt(mut self, prompt: Prompt) -> Self {
        self.prompts.push(prompt);
        self
    }

    /// Items per page of the list methods (default 100).
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = Some(n.max(1));
        self
    }

    /// Shared state handlers reach with `ctx.state::<T>()`.
    pub fn state<T: Any + Send + Sync>(mut self, value: Arc<T>) -> Self {
        self.extensions.insert(TypeId::of::<T>(), value);
        self
    }

    /// The bus server events are published on (default: in-process).
    pub fn bus(mut self, bus: Arc<dyn EventBus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// The names of the tools added so far.
    pub fn tool_names(&self) -> Vec<String> {
        self.tools.iter().map(|t| t.name().to_owned()).collect()
    }

    /// Add a provider of tools that live elsewhere (an upstream).
    pub fn provider(mut self, provider: Arc<dyn crate::Provider>) -> Self {
        self.providers.push(provider);
        self
    }

    /// Merge another builder's items (e.g. a toolset) into this one.
    pub fn merge(mut self, other: CatalogBuilder) -> Self {
        self.tools.extend(other.tools);
        self.resources.extend(other.resources);
        self.templates.extend(other.templates);
        self.prompts.extend(other.prompts);
        self.extensions.extend(other.extensions);
        self.providers.extend(other.providers);
        self
    }

    /// Check names are unique and build.
    pub fn build(self) -> Result<Catalog, String> {
        let tool_index = index(self.tools.iter().map(|t| t.name().to_owned()), "tool")?;
        let resource_index = index(self.resources.iter().map(|r| r.uri.clone()), "resource")?;
        let prompt_index = index(self.prompts.iter().map(|p| p.name.clone()), "prompt")?;
        Ok(Catalog {
            info: self.info,
            tools: self.tools,
            tool_index,
            resources: self.resources,
            resource_index,
            templates: self.templates,
            prompts: self.prompts,
            prompt_index,
            page_size: self.page_size.unwrap_or(100),
            extensions: Extensions::new(self.extensions),
            bus: self.bus.unwrap_or_else(|| Arc::new(LocalBus::default())),
            providers: ArcSwap::from_pointee(self.providers),
            decisions: arc_swap::ArcSwapOption::empty(),
        })
    }
}

/// Names to their places in the catalog's lists (looked up several times a
/// call, so hashed with foldhash: the names are the server's, not a
/// client's).
pub(crate) type Index = HashMap<String, usize, foldhash::fast::RandomState>;

fn index(names: impl Iterator<Item = String>, kind: &str) -> Result<Index, String> {
    let mut map = Index::default();
    for (i, name) in names.enumerate() {
        if map.insert(name.clone(), i).is_some() {
            return Err(format!("duplicate {kind}: {name}"));
        }
    }
    Ok(map)
}

impl Catalog {
    /// Start building a catalog (as [`CatalogBuilder::new`]).
    pub fn builder() -> CatalogBuilder {
        CatalogBuilder::new()
    }

    /// Who the server says it is.
    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    /// The catalog's own tool `name`, if it has one (not a provider's).
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tool_index.get(name).map(|&i| &self.tools[i])
    }

    /// The bus server events travel on.
    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }

    /// The catalog's own tools, in the order they were added.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// Whether `uri` names a resource or matches a template.
    pub fn has_resource(&self, uri: &str) -> bool {
        self.resource_index.contains_key(uri)
            || self
                .templates
                .iter()
                .any(|t| t.template.matches(uri).is_some())
    }

    /// Whether `access` may see the resource at `uri`: the URI itself, and
    /// the template it matches (if it comes from one) must both be allowed.
    pub fn resource_visible(&self, access: &dyn crate::Access, uri: &str) -> bool {
        access.resource(uri)
            && self
                .templates
                .iter()
                .find(|t| t.template.matches(uri).is_some())
                .is_none_or(|t| access.resource(t.uri_template()))
    }

    /// Whether `name` is a tool the catalog holds or a provider has listed
    /// (a made-up name under a provider's prefix is not).
    pub fn knows_tool(&self, name: &str) -> bool {
        self.tool(name).is_some()
            || self
                .providers()
                .iter()
                .any(|p| p.owns_tool(name) && p.has_tool_definition(name))
    }

    /// The `inputSchema` of a tool, the catalog's own or a provider's.
    pub fn tool_input_schema(&self, name: &str) -> Option<Value> {
        if let Some(t) = self.tool(name) {
            return Some(t.definition()["inputSchema"].clone());
        }
        self.providers()
            .iter()
            .find(|p| p.owns_tool(name))
            .and_then(|p| p.tool_definition(name))
            .map(|d| d["inputSchema"].clone())
    }

    /// The provider serving resource `uri` when the catalog itself does not
    /// (`None` for the catalog's own resources and for a URI no provider
    /// owns).
    pub fn resource_provider(&self, uri: &str) -> Option<Arc<dyn crate::Provider>> {
        if self.has_resource(uri) {
            return None;
        }
        self.providers()
            .iter()
            .find(|p| p.owns_resource(uri))
            .cloned()
    }

    /// The providers of tools outside the catalog, as they are now.
    pub fn providers(&self) -> Arc<Vec<Arc<dyn crate::Provider>>> {
        self.providers.load_full()
    }

    /// Report refusals to `observer` from now on (replacing any before).
    pub fn observe_decisions(&self, observer: Arc<dyn crate::caller::DecisionObserver>) {
        self.decisions.store(Some(Arc::new(observer)));
    }

    /// Whether any provider serves (cheaper than [`Catalog::providers`]).
    pub(crate) fn has_providers(&self) -> bool {
        !self.providers.load().is_empty()
    }

    /// Add `provider`, whose tools are `tools` (merged names), while the
    /// catalog serves. Refused if a provider of that name is there or a
    /// tool name is already taken. Every listener hears the lists changed.
    pub fn add_provider(
        &self,
        provider: Arc<dyn crate::Provider>,
        tools: &[String],
    ) -> Result<(), String> {
        let current = self.providers();
        if current.iter().any(|p| p.name() == provider.name()) {
            return Err(format!("provider {:?} is already there", provider.name()));
        }
        if let Some(name) = tools.iter().find(|n| self.knows_tool(n)) {
            return Err(format!(
                "tool name collision: {name:?} of {:?} is already served; give one of them a prefix",
                provider.name()
            ));
        }
        self.providers.rcu(|now| {
            let mut next = Vec::clone(now);
            next.push(provider.clone());
            next
        });
        self.lists_changed();
        Ok(())
    }

    /// Remove the provider named `name`, if there is one, and return it (to
    /// be shut down by the caller). Every listener hears the lists changed.
    pub fn remove_provider(&self, name: &str) -> Option<Arc<dyn crate::Provider>> {
        let mut removed = None;
        self.providers.rcu(|now| {
            removed = now.iter().find(|p| p.name() == name).cloned();
            now.iter()
                .filter(|p| p.name() != name)
                .cloned()
                .collect::<Vec<_>>()
        });
        if removed.is_some() {
            self.lists_changed();
        }
        removed
    }

    fn lists_changed(&self) {
        use crate::ServerEvent;
        for e in [
            ServerEvent::ToolsListChanged,
            ServerEvent::PromptsListChanged,
            ServerEvent::ResourcesListChanged,
        ] {
            self.bus.publish(e);
        }
    }

    /// Tell every provider a session ended.
    pub async fn session_ended(&self, session: &str) {
        for p in self.providers().iter() {
            p.session_ended(session).await;
        }
    }

    /// The capabilities this catalog gives the server.
    pub fn capabilities(&self) -> Value {
        json!({
            "tools": {"listChanged": true},
            "resources": {"subscribe": true, "listChanged": true},
            "prompts": {"listChanged": true},
            "logging": {},
            "completions": {},
        })
    }

    /// One page of a list, and the cursor of the next.
    pub(crate) fn page<'a>(
        &self,
        items: impl ExactSizeIterator<Item = &'a Value>,
        cursor: Option<&str>,
        key: &str,
    ) -> Result<Value, RpcError> {
        let total = items.len();
        let start = match cursor {
            None => 0,
            Some(c) => cursor::decode(c)
                .filter(|&o| o <= total)
                .ok_or_else(|| RpcError::invalid_params("invalid cursor"))?,
        };
        let page: Vec<&Value> = items.skip(start).take(self.page_size).collect();
        let end = start + page.len();
        let mut out = json!({ key: page });
        if end < total {
            out["nextCursor"] = json!(cursor::encode(end));
        }
        Ok(out)
    }
}
