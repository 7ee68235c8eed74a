//! Request params, read once: MCP params are a JSON object (or absent), and
//! every field more than one layer inspects — the tool, prompt or resource
//! a request names, a task's id, a completion's reference — is read here
//! and only here, so the gate, the dispatcher, metrics, the audit trail,
//! the tasks check and every front see the same value or the same refusal.
//!
//! JSON-RPC also allows params by position (an array), and serde reads a
//! struct from a sequence; MCP does not, so [`check`] and [`parse`] refuse
//! anything but an object with -32602. The readers derive `Deserialize`, so
//! a repeated key among the fields they read is refused too (one request
//! must not name two tools).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::RpcError;
use crate::methods;

/// -32602 unless `params` is absent or a JSON object; the message names
/// the method and what was sent instead.
pub fn check(method: &str, params: Option<&RawValue>) -> Result<(), RpcError> {
    let Some(raw) = params else {
        return Ok(());
    };
    let kind = match raw.get().trim_start().as_bytes().first() {
        Some(b'{') => return Ok(()),
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    };
    Err(RpcError::invalid_params(format!(
        "{method}: params must be an object, not {kind}"
    )))
}

/// Read a method's params as `T` (absent params are `{}`): -32602 naming
/// the method if they are not an object or do not fit `T`.
pub fn parse<'a, T: Deserialize<'a>>(
    method: &str,
    params: Option<&'a RawValue>,
) -> Result<T, RpcError> {
    check(method, params)?;
    let text = params.map_or("{}", RawValue::get);
    serde_json::from_str(text).map_err(|e| RpcError::invalid_params(format!("{method}: {e}")))
}

/// The params of `tools/call`.
#[derive(Debug, Deserialize)]
pub struct ToolCall<'a> {
    /// The tool, JSON escapes decoded.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// The arguments as sent (`null` reads as absent).
    #[serde(default, borrow)]
    pub arguments: Option<&'a RawValue>,
    /// The 2025-11-25 task augmentation, as sent (`null` reads as absent).
    #[serde(default, borrow)]
    pub task: Option<&'a RawValue>,
}

impl<'a> ToolCall<'a> {
    /// Read `tools/call` params.
    pub fn read(params: Option<&'a RawValue>) -> Result<Self, RpcError> {
        parse(methods::TOOLS_CALL, params)
    }
}

/// The params of `prompts/get`.
#[derive(Debug, Deserialize)]
pub struct PromptGet<'a> {
    /// The prompt's name.
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// Its arguments, as sent (not checked here).
    #[serde(default, borrow)]
    pub arguments: Option<&'a RawValue>,
}

impl<'a> PromptGet<'a> {
    /// Read `prompts/get` params.
    pub fn read(params: Option<&'a RawValue>) -> Result<Self, RpcError> {
        parse(methods::PROMPTS_GET, params)
    }
}

/// The params of `resources/read`, `resources/subscribe` and
/// `resources/unsubscribe`.
#[derive(Debug, Deserialize)]
pub struct ResourceUri<'a> {
    /// The resource's URI.
    #[serde(borrow)]
    pub uri: Cow<'a, str>,
}

impl<'a> ResourceUri<'a> {
    /// Read the params of `method` (one of the three above).
    pub fn read(method: &str, params: Option<&'a RawValue>) -> Result<Self, RpcError> {
        parse(method, params)
    }
}

/// The params of `completion/complete`.
#[derive(Debug, Deserialize)]
pub struct Completion {
    /// The prompt or resource template whose argument it is.
    #[serde(rename = "ref")]
    pub reference: Reference,
    /// The argument, and what the user typed so far.
    pub argument: CompletionArgument,
}

/// What a completion is for.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum Reference {
    /// A prompt's argument.
    #[serde(rename = "ref/prompt")]
    Prompt {
        /// The prompt's name.
        name: String,
    },
    /// A variable of a resource template.
    #[serde(rename = "ref/resource")]
    Resource {
        /// The template (its `uriTemplate`).
        uri: String,
    },
}

/// The argument being completed.
#[derive(Debug, Deserialize)]
pub struct CompletionArgument {
    /// The argument's (or the variable's) name.
    pub name: String,
    /// What the user typed so far (absent: empty).
    #[serde(default)]
    pub value: String,
}

impl Completion {
    /// Read `completion/complete` params.
    pub fn read(params: Option<&RawValue>) -> Result<Self, RpcError> {
        parse(methods::COMPLETION_COMPLETE, params)
    }
}

/// The params of `logging/setLevel` (the level is not checked here).
#[derive(Debug, Deserialize)]
pub struct SetLevel<'a> {
    /// The level asked for, as sent.
    #[serde(borrow)]
    pub level: Cow<'a, str>,
}

impl<'a> SetLevel<'a> {
    /// Read `logging/setLevel` params.
    pub fn read(params: Option<&'a RawValue>) -> Result<Self, RpcError> {
        parse(methods::SET_LEVEL, params)
    }
}

/// The params of `notifications/cancelled`.
#[derive(Debug, Deserialize)]
pub struct Cancelled<'a> {
    /// The id of the request to cancel, as sent.
    #[serde(rename = "requestId", borrow)]
    pub request_id: &'a RawValue,
}

impl<'a> Cancelled<'a> {
    /// Read `notifications/cancelled` params.
    pub fn read(params: Option<&'a RawValue>) -> Result<Self, RpcError> {
        parse(methods::CANCELLED, params)
    }
}

/// The task a `tasks/*` request is about (`tasks/get`, `tasks/result`,
/// `tasks/cancel`, `tasks/update`).
#[derive(Debug, Deserialize)]
pub struct TaskRef<'a> {
    /// The task's id.
    #[serde(rename = "taskId", borrow)]
    pub task_id: Cow<'a, str>,
}

impl<'a> TaskRef<'a> {
    /// Read the params of `method` (one of the `tasks/*` above).
    pub fn read(method: &str, params: Option<&'a RawValue>) -> Result<Self, RpcError> {
        parse(method, params)
    }
}

/// `params._meta.progressToken` of a request, if it is a string or a
/// number; anything else (or params that cannot be read) is none.
pub fn progress_token(params: Option<&RawValue>) -> Option<serde_json::Value> {
    #[derive(Deserialize)]
    struct Meta {
        #[serde(rename = "progressToken")]
        progress_token: Option<serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct WithMeta {
        #[serde(rename = "_meta")]
        meta: Option<Meta>,
    }
    let text = params?.get();
    if !crate::may_hold_key(text, "progressToken") || check("", params).is_err() {
        return None;
    }
    let p: WithMeta = serde_json::from_str(text).ok()?;
    p.meta?
        .progress_token
        .filter(|t| t.is_string() || t.is_number())
}

/// What a request names, for routing and logging: the tool of
/// `tools/call`, the prompt of `prompts/get`, the resource of
/// `resources/read` and `resources/(un)subscribe`. `Ok(None)` for other
/// methods; the refusal of the method's own reader for params it refuses.
pub fn named<'a>(
    method: &str,
    params: Option<&'a RawValue>,
) -> Result<Option<Cow<'a, str>>, RpcError> {
    Ok(Some(match method {
        methods::TOOLS_CALL => ToolCall::read(params)?.name,
        methods::PROMPTS_GET => PromptGet::read(params)?.name,
        methods::RESOURCES_READ | methods::RESOURCES_SUBSCRIBE | methods::RESOURCES_UNSUBSCRIBE => {
            ResourceUri::read(method, params)?.uri
        }
        _ => return Ok(None),
    }))
}

/// [`named`], owned; `None` also for params the method's reader refuses
/// (its reader refuses them again where the method is served). The fronts
/// read it once per request and hand it to what labels or gates by it.
pub fn name_of(method: &str, params: Option<&RawValue>) -> Option<String> {
    named(method, params).ok().flatten().map(Cow::into_owned)
}

#[cfg(test)]
mod tests;
