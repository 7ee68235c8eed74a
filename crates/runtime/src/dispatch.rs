//! MCP method dispatch over a catalog: the methods every transport shares.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use switchboard_proto::params::{self, Completion, PromptGet, Reference, ResourceUri, ToolCall};
use switchboard_proto::{ErrorCode, ProtocolVersion, RpcError, methods};

use crate::catalog::{Catalog, ServerInfo};
use crate::context::{PeerError, RequestContext, RequestContextBuilder};
use crate::error::{HandlerError, ToolError};
use crate::provider::Provider;

/// A `tools/list` page's tools as `access` presents them.
fn present(access: &dyn crate::caller::Access, result: &mut Value) {
    if let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) {
        tools.iter_mut().for_each(|t| access.present_tool(t));
    }
}

#[derive(Deserialize, Default)]
struct ListParams {
    #[serde(default)]
    cursor: Option<String>,
}

impl Catalog {
    /// The result of `initialize` for a negotiated version.
    pub fn initialize_result(&self, version: ProtocolVersion) -> Value {
        self.initialize_result_as(version, &self.info)
    }

    /// The result of `initialize` for a negotiated version, the server
    /// saying it is `server` (a virtual server over this catalog).
    pub fn initialize_result_as(&self, version: ProtocolVersion, server: &ServerInfo) -> Value {
        let mut info = json!({"name": server.name, "version": server.version});
        if let Some(title) = &server.title {
            info["title"] = json!(title);
        }
        let mut out = json!({
            "protocolVersion": version.as_str(),
            "capabilities": self.capabilities(),
            "serverInfo": info,
        });
        if let Some(instructions) = &server.instructions {
            out["instructions"] = json!(instructions);
        }
        out
    }

    /// Finish a context for a request served by this catalog.
    pub fn context(&self, builder: RequestContextBuilder) -> RequestContext {
        builder.build(self.extensions.clone(), self.bus.clone())
    }

    /// Whether this catalog answers `method`.
    pub fn handles(method: &str) -> bool {
        matches!(
            method,
            methods::TOOLS_LIST
                | methods::TOOLS_CALL
                | methods::RESOURCES_LIST
                | methods::RESOURCES_TEMPLATES_LIST
                | methods::RESOURCES_READ
                | methods::PROMPTS_LIST
                | methods::PROMPTS_GET
                | methods::COMPLETION_COMPLETE
        )
    }

    /// Serve one catalog method. A call, read or prompt is judged by the
    /// caller's policy first, and its result redacted by it after.
    pub async fn handle(
        &self,
        method: &str,
        params: Option<&RawValue>,
        ctx: RequestContext,
    ) -> Result<Value, HandlerError> {
        if method == methods::TOOLS_LIST && ctx.caller().access.searches() {
            let p: ListParams = params::parse(method, params)?;
            let _ = p.cursor; // one page: the search tool
            return Ok(json!({ "tools": [crate::search::definition()] }));
        }
        if self.is_search(method, params, &ctx) {
            return Ok(self.search(params, &ctx).await?);
        }
        if !matches!(
            method,
            methods::TOOLS_CALL | methods::RESOURCES_READ | methods::PROMPTS_GET
        ) {
            let rewrites = method == methods::TOOLS_LIST && ctx.caller().access.rewrites();
            let access = rewrites.then(|| ctx.caller().access.clone());
            let mut result = self.serve(method, params, ctx).await?;
            if let Some(access) = access {
                present(&*access, &mut result);
            }
            return Ok(result);
        }
        // A tool the caller sees under another name or shape is called as
        // itself, with its complete arguments.
        let rewritten = self.rewrite(method, params, ctx.caller())?;
        let params = rewritten.as_deref().or(params);
        self.judge(method, params, ctx.caller())?;
        // Guardrail hooks see the call as it goes to the tool, and may
        // change its arguments, then its result.
        let guarded = self.guard_before(method, params, ctx.caller()).await?;
        let params = guarded.as_deref().or(params);
        let kept = ctx.clone();
        let mut result = self.serve(method, params, ctx).await?;
        self.guard_after(method, params, kept.caller(), &mut result)
            .await?;
        self.redact(method, params, kept.caller(), &mut result);
        Ok(result)
    }

    async fn serve(
        &self,
        method: &str,
        params: Option<&RawValue>,
        ctx: RequestContext,
    ) -> Result<Value, HandlerError> {
        let access = ctx.caller().access.clone();
        match method {
            methods::TOOLS_LIST if !self.has_providers() => {
                let items = self.tools.iter().filter(|t| access.tool(t.name()));
                self.list(method, params, items.map(|t| t.definition()), "tools")
            }
            methods::TOOLS_LIST => {
                let visible = self.visible_tools_unpresented(&ctx).await;
                self.list(method, params, visible.iter(), "tools")
            }
            methods::TOOLS_CALL
                if self.has_providers()
                    && ToolCall::read(params).is_ok_and(|c| self.tool(&c.name).is_none()) =>
            {
                self.call_provider(params, ctx).await
            }
            methods::RESOURCES_LIST | methods::RESOURCES_TEMPLATES_LIST | methods::PROMPTS_LIST
                if self.has_providers() =>
            {
                self.merged_list(method, params, &ctx).await
            }
            methods::RESOURCES_READ | methods::PROMPTS_GET | methods::COMPLETION_COMPLETE
                if self.has_providers() =>
            {
                match self.provider_for(method, params, &ctx) {
                    Some(p) => {
                        let cancel = ctx.clone();
                        tokio::select! {
                            r = p.forward(method, params, ctx) => r,
                            _ = cancel.cancelled() => Err(HandlerError::Cancelled),
                        }
                    }
                    None => self.own(method, params, ctx).await,
                }
            }
            methods::RESOURCES_LIST => {
                let items = self.resources.iter().filter(|r| access.resource(&r.uri));
                self.list(method, params, items.map(|r| &r.definition), "resources")
            }
            methods::RESOURCES_TEMPLATES_LIST => {
                let items = self
                    .templates
                    .iter()
                    .filter(|t| access.resource(t.uri_template()));
                let defs = items.map(|t| &t.definition);
                self.list(method, params, defs, "resourceTemplates")
            }
            methods::PROMPTS_LIST => {
                let items = self.prompts.iter().filter(|p| access.prompt(&p.name));
                self.list(method, params, items.map(|p| &p.definition), "prompts")
            }
            methods::TOOLS_CALL => self.call_tool(ToolCall::read(params)?, ctx).await,
            methods::RESOURCES_READ | methods::PROMPTS_GET | methods::COMPLETION_COMPLETE => {
                self.own(method, params, ctx).await
            }
            other => Err(RpcError::method_not_found(other).into()),
        }
    }

    /// One page of the items the caller may see.
    fn list<'a>(
        &self,
        method: &str,
        params: Option<&RawValue>,
        items: impl Iterator<Item = &'a Value>,
        key: &str,
    ) -> Result<Value, HandlerError> {
        let p: ListParams = params::parse(method, params)?;
        let visible: Vec<&Value> = items.collect();
        Ok(self.page(visible.into_iter(), p.cursor.as_deref(), key)?)
    }

    async fn call_tool(&self, p: ToolCall<'_>, ctx: RequestContext) -> Result<Value, HandlerError> {
        let tool = self
            .tool(&p.name)
            .filter(|_| ctx.caller().access.tool(&p.name))
            .ok_or_else(|| RpcError::invalid_params(format!("unknown tool: {}", p.name)))?;
        let args = arguments(p.arguments)?;
        if let Some(cap) = tool
            .required_capabilities()
            .iter()
            .find(|c| !ctx.client_supports(c))
        {
            return tool_error(PeerError::MissingCapability(cap).into(), &ctx);
        }
        let fut = tool.call(ctx.clone(), args);
        let outcome = tokio::select! {
            r = fut => r,
            _ = ctx.cancelled() => return Err(HandlerError::Cancelled),
        };
        match outcome {
            Ok(result) => Ok(result.into_json()),
            Err(e) => tool_error(e, &ctx),
        }
    }

    async fn read_resource(
        &self,
        p: ResourceUri<'_>,
        ctx: RequestContext,
    ) -> Result<Value, HandlerError> {
        let allowed = ctx.caller().access.resource(&p.uri);
        let (reader, vars) = if !allowed {
            return Err(resource_not_found(&p.uri));
        } else if let Some(&i) = self.resource_index.get(p.uri.as_ref()) {
            (self.resources[i].reader.clone(), HashMap::new())
        } else if let Some((t, vars)) = self
            .templates
            .iter()
            .find_map(|t| t.template.matches(&p.uri).map(|v| (t, v)))
            .filter(|(t, _)| ctx.caller().access.resource(t.uri_template()))
        {
            (t.reader.clone(), vars)
        } else {
            return Err(resource_not_found(&p.uri));
        };
        let contents = tokio::select! {
            r = reader(ctx.clone(), p.uri.into_owned(), vars) => r,
            _ = ctx.cancelled() => return Err(HandlerError::Cancelled),
        };
        match contents {
            Ok(c) => {
                Ok(json!({"contents": c.into_iter().map(|c| c.into_json()).collect::<Vec<_>>()}))
            }
            Err(e) => Err(protocol_error(e)),
        }
    }

    async fn get_prompt(
        &self,
        p: PromptGet<'_>,
        ctx: RequestContext,
    ) -> Result<Value, HandlerError> {
        let prompt = self
            .prompt_index
            .get(p.name.as_ref())
            .map(|&i| &self.prompts[i])
            .filter(|_| ctx.caller().access.prompt(&p.name))
            .ok_or_else(|| RpcError::invalid_params(format!("unknown prompt: {}", p.name)))?;
        let given: Option<HashMap<String, Value>> = match p.arguments {
            None => None,
            Some(raw) => serde_json::from_str(raw.get())
                .map_err(|e| RpcError::invalid_params(format!("prompts/get: arguments: {e}")))?,
        };
        let mut args = HashMap::new();
        for (k, v) in given.unwrap_or_default() {
            let s = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            args.insert(k, s);
        }
        if let Some(missing) = prompt
            .arguments
            .iter()
            .find(|a| a.required && !args.contains_key(&a.name))
        {
            return Err(RpcError::invalid_params(format!(
                "prompts/get: missing required argument \"{}\"",
                missing.name
            ))
            .into());
        }
        let result = tokio::select! {
            r = (prompt.handler)(ctx.clone(), args) => r,
            _ = ctx.cancelled() => return Err(HandlerError::Cancelled),
        };
        result.map(|r| r.into_json()).map_err(protocol_error)
    }
}

impl Catalog {
    /// Read, get or complete from the catalog's own items.
    async fn own(
        &self,
        method: &str,
        params: Option<&RawValue>,
        ctx: RequestContext,
    ) -> Result<Value, HandlerError> {
        match method {
            methods::RESOURCES_READ => {
                self.read_resource(ResourceUri::read(method, params)?, ctx)
                    .await
            }
            methods::PROMPTS_GET => self.get_prompt(PromptGet::read(params)?, ctx).await,
            _ => Ok(self.complete(&Completion::read(params)?, &*ctx.caller().access)?),
        }
    }

    /// The provider that should answer a read, get or completion the
    /// catalog itself does not hold (and the caller may use).
    fn provider_for(
        &self,
        method: &str,
        params: Option<&RawValue>,
        ctx: &RequestContext,
    ) -> Option<Arc<dyn Provider>> {
        // Params the catalog's own reader refuses are left to it (the
        // same reader answers with the refusal).
        let access = &ctx.caller().access;
        let (prompt, uri) = match method {
            methods::PROMPTS_GET => (Some(PromptGet::read(params).ok()?.name.into_owned()), None),
            methods::RESOURCES_READ => (
                None,
                Some(ResourceUri::read(method, params).ok()?.uri.into_owned()),
            ),
            _ => match Completion::read(params).ok()?.reference {
                Reference::Prompt { name } => (Some(name), None),
                Reference::Resource { uri } => (None, Some(uri)),
            },
        };
        if let Some(name) = prompt {
            if self.prompt_index.contains_key(&name) || !access.prompt(&name) {
                return None;
            }
            return self
                .providers()
                .iter()
                .find(|p| p.owns_prompt(&name))
                .cloned();
        }
        let uri = uri?;
        if !access.resource(&uri) {
            return None;
        }
        self.resource_provider(&uri)
    }

    /// A list of the catalog's own items and every provider's, filtered by
    /// the caller's policy.
    async fn merged_list(
        &self,
        method: &str,
        params: Option<&RawValue>,
        ctx: &RequestContext,
    ) -> Result<Value, HandlerError> {
        let access = ctx.caller().access.clone();
        let providers = self.providers();
        let lists = futures_util::future::join_all(
            providers
                .iter()
                .map(|p| async move { (p, p.list(method, ctx).await) }),
        )
        .await;
        let mut theirs = Vec::new();
        for (p, listed) in lists {
            match listed {
                Ok(items) => theirs.extend(items),
                Err(e) => {
                    tracing::warn!(upstream = p.name(), method, error = %e, "upstream left out of the list")
                }
            }
        }
        let (key, own): (&str, Vec<&Value>) = match method {
            methods::RESOURCES_LIST => (
                "resources",
                self.resources
                    .iter()
                    .filter(|r| access.resource(&r.uri))
                    .map(|r| &r.definition)
                    .collect(),
            ),
            methods::RESOURCES_TEMPLATES_LIST => (
                "resourceTemplates",
                self.templates
                    .iter()
                    .filter(|t| access.resource(t.uri_template()))
                    .map(|t| &t.definition)
                    .collect(),
            ),
            _ => (
                "prompts",
                self.prompts
                    .iter()
                    .filter(|p| access.prompt(&p.name))
                    .map(|p| &p.definition)
                    .collect(),
            ),
        };
        let field = if method == methods::PROMPTS_LIST {
            "name"
        } else if method == methods::RESOURCES_LIST {
            "uri"
        } else {
            "uriTemplate"
        };
        let visible = theirs.iter().filter(|item| {
            let Some(name) = item.get(field).and_then(Value::as_str) else {
                return false;
            };
            if method == methods::PROMPTS_LIST {
                access.prompt(name)
            } else {
                access.resource(name)
            }
        });
        self.list(method, params, own.into_iter().chain(visible), key)
    }
}

impl Catalog {
    /// Every provider's tools, asked at once; a provider that fails is left
    /// out (and logged), so one failing upstream never fails the list.
    /// Every tool the caller may see (the catalog's own first), under the
    /// catalog's names.
    async fn visible_tools_unpresented(&self, ctx: &RequestContext) -> Vec<Value> {
        let access = &ctx.caller().access;
        let mut out: Vec<Value> = self
            .tools
            .iter()
            .filter(|t| access.tool(t.name()))
            .map(|t| t.definition().clone())
            .collect();
        if self.has_providers() {
            let upstream = self.provider_tools(ctx).await;
            out.extend(upstream.into_iter().filter(|d| {
                d.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| access.tool(n))
            }));
        }
        out
    }

    /// Every tool the caller may see, as it sees them.
    pub(crate) async fn visible_tools(&self, ctx: &RequestContext) -> Vec<Value> {
        let mut tools = self.visible_tools_unpresented(ctx).await;
        let access = &ctx.caller().access;
        if access.rewrites() {
            tools.iter_mut().for_each(|t| access.present_tool(t));
        }
        tools
    }

    async fn provider_tools(&self, ctx: &RequestContext) -> Vec<Value> {
        let providers = self.providers();
        let lists = futures_util::future::join_all(
            providers
                .iter()
                .map(|p| async move { (p, p.list_tools(ctx).await) }),
        )
        .await;
        let mut out = Vec::new();
        for (p, listed) in lists {
            match listed {
                Ok(tools) => out.extend(tools),
                Err(e) => {
                    tracing::warn!(upstream = p.name(), error = %e, "tools/list: upstream left out")
                }
            }
        }
        out
    }

    /// A call to a tool the catalog does not hold: the provider that owns
    /// it, if the caller may use it; else the same answer as any unknown
    /// tool.
    async fn call_provider(
        &self,
        params: Option<&RawValue>,
        ctx: RequestContext,
    ) -> Result<Value, HandlerError> {
        let name = ToolCall::read(params)?.name;
        let provider = self
            .providers()
            .iter()
            .find(|p| p.owns_tool(&name))
            .filter(|_| ctx.caller().access.tool(&name))
            .cloned();
        let Some(p) = provider else {
            return Err(RpcError::invalid_params(format!("unknown tool: {name}")).into());
        };
        // Cancelling drops the upstream call, which cancels it upstream.
        let cancel = ctx.clone();
        tokio::select! {
            r = p.call_tool(&name, params, ctx) => r,
            _ = cancel.cancelled() => Err(HandlerError::Cancelled),
        }
    }
}

/// The answer for a resource that does not exist or is not the caller's to
/// read: the same in both cases.
fn resource_not_found(uri: &str) -> HandlerError {
    RpcError::new(
        ErrorCode::RESOURCE_NOT_FOUND,
        format!("resource not found: {uri}"),
    )
    .with_data(json!({"uri": uri}))
    .into()
}

/// Tool failures become `isError` results; protocol failures stay errors.
/// A missing client capability is a protocol error for stateless requests
/// (the spec's -32021) and a tool error in a session.
fn tool_error(e: ToolError, ctx: &RequestContext) -> Result<Value, HandlerError> {
    match e {
        ToolError::Rpc(e) => Err(e.into()),
        ToolError::Peer(PeerError::Cancelled) => Err(HandlerError::Cancelled),
        ToolError::Peer(PeerError::InputRequired(_)) => Err(HandlerError::InputRequired),
        ToolError::Peer(PeerError::StartTask) => Err(HandlerError::StartTask),
        ToolError::Peer(e @ PeerError::InvalidAnswer(_)) => {
            Err(RpcError::invalid_params(e.to_string()).into())
        }
        ToolError::Peer(PeerError::MissingCapability(c)) if ctx.is_stateless() => {
            Err(HandlerError::MissingCapability(c))
        }
        other => Ok(crate::tool::ToolResult::error(other.to_string()).into_json()),
    }
}

/// For resources and prompts every failure is a JSON-RPC error.
fn protocol_error(e: ToolError) -> HandlerError {
    match e {
        ToolError::Rpc(e) => e.into(),
        ToolError::Peer(PeerError::Cancelled) => HandlerError::Cancelled,
        ToolError::Peer(PeerError::InputRequired(_)) => HandlerError::InputRequired,
        ToolError::Peer(PeerError::MissingCapability(c)) => HandlerError::MissingCapability(c),
        ToolError::Peer(e @ PeerError::InvalidAnswer(_)) => {
            RpcError::invalid_params(e.to_string()).into()
        }
        ToolError::InvalidArguments(m) => RpcError::invalid_params(m).into(),
        other => RpcError::internal(other.to_string()).into(),
    }
}

/// A tool call's arguments as the handler gets them: absent or `null` is
/// empty; anything but an object is -32602.
fn arguments(raw: Option<&RawValue>) -> Result<Map<String, Value>, RpcError> {
    let not_object = || RpcError::invalid_params("tools/call: \"arguments\" must be an object");
    let Some(raw) = raw else {
        return Ok(Map::new());
    };
    if !raw.get().starts_with('{') {
        return Err(not_object());
    }
    serde_json::from_str(raw.get())
        .map_err(|e| RpcError::invalid_params(format!("tools/call: arguments: {e}")))
}
