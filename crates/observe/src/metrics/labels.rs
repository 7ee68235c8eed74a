//! Label values read from requests, kept to closed sets: the methods we
//! serve, the tools the catalog knows, and the outcome of a handler.

use serde_json::Value;
use switchboard_runtime::{Catalog, HandlerError};

/// The outcome label of a handler's result: `ok`, `tool_error`,
/// `cancelled`, `input_required`, `task` or `error`.
pub fn outcome(r: &Result<Value, HandlerError>) -> &'static str {
    match r {
        Ok(v) if v.get("isError") == Some(&Value::Bool(true)) => "tool_error",
        Ok(_) => "ok",
        Err(HandlerError::Cancelled) => "cancelled",
        Err(HandlerError::InputRequired) => "input_required",
        Err(HandlerError::StartTask) => "task",
        Err(HandlerError::Rpc(e)) if e.code == switchboard_proto::ErrorCode::POLICY_DENIED => {
            "denied"
        }
        Err(HandlerError::Rpc(_) | HandlerError::MissingCapability(_)) => "error",
    }
}

/// The JSON-RPC error code of a failed handler, for the access line.
pub fn code(r: &Result<Value, HandlerError>) -> Option<i64> {
    match r {
        Err(HandlerError::Rpc(e)) => Some(e.code.0.into()),
        Err(HandlerError::MissingCapability(_)) => {
            Some(switchboard_proto::ErrorCode::INVALID_PARAMS.0.into())
        }
        _ => None,
    }
}

/// The tool a `tools/call` names, if it exists — the catalog's own or one
/// an upstream listed (so the label set stays the listed tools'), for
/// metrics and the audit line. `named` is what the request names, as
/// [`switchboard_proto::params::named`] reads it (the reader the gate and
/// the catalog use).
pub fn tool_of<'n>(catalog: &Catalog, method: &str, named: Option<&'n str>) -> Option<&'n str> {
    if method != switchboard_proto::methods::TOOLS_CALL {
        return None;
    }
    named.filter(|name| catalog.knows_tool(name))
}

/// Methods are labelled from a closed set; anything else is `other`.
pub(crate) fn known_method(method: &str) -> &'static str {
    use switchboard_proto::methods::*;
    const KNOWN: [&str; 9] = [
        TOOLS_LIST,
        TOOLS_CALL,
        RESOURCES_LIST,
        RESOURCES_TEMPLATES_LIST,
        RESOURCES_READ,
        PROMPTS_LIST,
        PROMPTS_GET,
        COMPLETION_COMPLETE,
        "server/discover",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}
