//! Judging a request by its arguments and its caller before it is served,
//! and masking secrets in its result after: the catalog asks the caller's
//! [`crate::Access`] for every tool call, resource read and prompt, in
//! every era, and reports what it decided to the server's
//! [`crate::DecisionObserver`].

use serde_json::value::RawValue;
use switchboard_proto::params::{PromptGet, ResourceUri, ToolCall};
use switchboard_proto::{RpcError, methods};

use crate::caller::{Caller, GuardedCall, Judged, Refusal, Stage};
use crate::catalog::Catalog;

impl Catalog {
    /// Ask the caller's policy whether a call, read or prompt may go
    /// ahead. Params that cannot be read are left to the handler, which
    /// answers them with the same reader's error.
    pub(crate) fn judge(
        &self,
        method: &str,
        params: Option<&RawValue>,
        caller: &Caller,
    ) -> Result<(), RpcError> {
        if !caller.access.judges() {
            return Ok(());
        }
        let (name, arguments) = match method {
            methods::TOOLS_CALL => match ToolCall::read(params) {
                Ok(c) => (c.name, c.arguments),
                Err(_) => return Ok(()),
            },
            methods::PROMPTS_GET => match PromptGet::read(params) {
                Ok(p) => (p.name, p.arguments),
                Err(_) => return Ok(()),
            },
            methods::RESOURCES_READ => match ResourceUri::read(method, params) {
                Ok(r) => (r.uri, None),
                Err(_) => return Ok(()),
            },
            _ => return Ok(()),
        };
        // What the caller may not see is answered as unknown, not judged.
        let visible = match method {
            methods::TOOLS_CALL => caller.access.tool(&name),
            methods::PROMPTS_GET => caller.access.prompt(&name),
            _ => caller.access.resource(&name),
        };
        if !visible {
            return Ok(());
        }
        let annotations = || {
            if method != methods::TOOLS_CALL {
                return None;
            }
            if let Some(tool) = self.tool(&name) {
                return tool.definition().get("annotations").cloned();
            }
            let providers = self.providers();
            let owner = providers.iter().find(|p| p.owns_tool(&name))?;
            owner.tool_definition(&name)?.get("annotations").cloned()
        };
        let judged = Judged {
            method,
            name: &name,
            arguments,
            caller,
            annotations: &annotations,
        };
        caller.access.judge(&judged).map_err(|refusal| {
            if let Some(observer) = &*self.decisions.load() {
                observer.refused(&judged, &refusal);
            }
            refusal.to_rpc()
        })
    }

    /// Mask secrets in the result of a call, read or prompt, as the
    /// caller's policy says, and report it if anything was masked.
    pub(crate) fn redact(
        &self,
        method: &str,
        params: Option<&RawValue>,
        caller: &Caller,
        result: &mut serde_json::Value,
    ) {
        let patterns = caller.access.redact(result);
        if patterns.is_empty() {
            return;
        }
        let name = match method {
            methods::TOOLS_CALL => ToolCall::read(params).map(|c| c.name),
            methods::PROMPTS_GET => PromptGet::read(params).map(|p| p.name),
            _ => ResourceUri::read(method, params).map(|r| r.uri),
        }
        .unwrap_or_default();
        if let Some(observer) = &*self.decisions.load() {
            observer.redacted(caller, method, &name, &patterns);
        }
    }

    /// The params of a `tools/call` of a tool the caller sees otherwise
    /// (a virtual server's override): its own name and complete
    /// arguments, everything else (`_meta`, `task`) kept. `None`: as sent.
    pub(crate) fn rewrite(
        &self,
        method: &str,
        params: Option<&RawValue>,
        caller: &Caller,
    ) -> Result<Option<Box<RawValue>>, RpcError> {
        if method != methods::TOOLS_CALL || !caller.access.rewrites() {
            return Ok(None);
        }
        let call = ToolCall::read(params)?;
        let Some((name, arguments)) = caller.access.rewrite_call(&call.name, call.arguments)?
        else {
            return Ok(None);
        };
        with_fields(params, Some(name), arguments).map(Some)
    }

    /// Run the caller's `before` hooks on a `tools/call`: the params with
    /// the arguments a hook made (`None`: as they are), or the refusal.
    pub(crate) async fn guard_before(
        &self,
        method: &str,
        params: Option<&RawValue>,
        caller: &Caller,
    ) -> Result<Option<Box<RawValue>>, RpcError> {
        if method != methods::TOOLS_CALL || !caller.access.guards() {
            return Ok(None);
        }
        let call = ToolCall::read(params)?;
        let arguments = arguments_of(&call)?;
        let changed = self
            .guard(Stage::Before, &call.name, &arguments, None, caller)
            .await?;
        let Some(arguments) = changed else {
            return Ok(None);
        };
        with_fields(params, None, arguments).map(Some)
    }

    /// Run the caller's `after` hooks on a `tools/call`'s result: it is
    /// replaced by what a hook made of it, or the call refused.
    pub(crate) async fn guard_after(
        &self,
        method: &str,
        params: Option<&RawValue>,
        caller: &Caller,
        result: &mut serde_json::Value,
    ) -> Result<(), RpcError> {
        if method != methods::TOOLS_CALL || !caller.access.guards() {
            return Ok(());
        }
        let call = ToolCall::read(params)?;
        let arguments = arguments_of(&call)?;
        if let Some(changed) = self
            .guard(Stage::After, &call.name, &arguments, Some(result), caller)
            .await?
        {
            *result = changed;
        }
        Ok(())
    }

    async fn guard(
        &self,
        stage: Stage,
        tool: &str,
        arguments: &serde_json::Value,
        result: Option<&serde_json::Value>,
        caller: &Caller,
    ) -> Result<Option<serde_json::Value>, RpcError> {
        let observer = self.decisions.load_full();
        let report = |hook: &str, stage: Stage, decision: &'static str| {
            if let Some(o) = &observer {
                o.hook(caller, tool, hook, stage, decision);
            }
        };
        let call = GuardedCall {
            tool,
            arguments,
            result,
            caller,
        };
        caller
            .access
            .guard(stage, call, &report)
            .await
            .map_err(|refusal: Refusal| refusal.to_rpc())
    }
}

/// A call's arguments as a value (an empty object when none were sent).
fn arguments_of(call: &ToolCall<'_>) -> Result<serde_json::Value, RpcError> {
    match call.arguments {
        Some(a) => serde_json::from_str(a.get())
            .map_err(|e| RpcError::invalid_params(format!("tools/call: arguments: {e}"))),
        None => Ok(serde_json::json!({})),
    }
}

/// `tools/call` params with another `name` (if given) and `arguments`;
/// everything else (`_meta`, `task`) as sent.
fn with_fields(
    params: Option<&RawValue>,
    name: Option<String>,
    arguments: serde_json::Value,
) -> Result<Box<RawValue>, RpcError> {
    let mut v: serde_json::Value = match params {
        Some(p) => serde_json::from_str(p.get())
            .map_err(|e| RpcError::invalid_params(format!("params: {e}")))?,
        None => serde_json::json!({}),
    };
    if let Some(name) = name {
        v["name"] = serde_json::Value::String(name);
    }
    v["arguments"] = arguments;
    serde_json::value::to_raw_value(&v).map_err(|e| RpcError::internal(e.to_string()))
}
