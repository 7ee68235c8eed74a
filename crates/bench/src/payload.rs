//! Request bodies, built once per run and stamped with an id per request,
//! and the era-specific headers that go with them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use serde_json::{Value, json};

use crate::args::{CommonArgs, Era, ToolArgs};
use crate::target::Target;

/// The protocol version of the stateless era.
pub(crate) const MODERN: &str = "2026-07-28";

/// One JSON-RPC message, minus its id.
#[derive(Debug)]
pub(crate) struct Payload {
    /// The `Mcp-Method` header (modern era).
    pub method: HeaderValue,
    /// The `Mcp-Name` header (modern era), for methods that name something.
    pub name: Option<HeaderValue>,
    /// `{"jsonrpc":"2.0","method":…,"params":…` without the closing brace.
    head: String,
}

impl Payload {
    /// `params` gets the `_meta` the modern era requires.
    pub(crate) fn new(era: Era, method: &str, mut params: Value) -> Result<Self, String> {
        if era == Era::Modern {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            });
        }
        let name = match method {
            "tools/call" | "prompts/get" => params.get("name"),
            "resources/read" => params.get("uri"),
            _ => None,
        };
        let name = name
            .and_then(Value::as_str)
            .map(HeaderValue::from_str)
            .transpose()
            .map_err(|_| format!("{method}: the name cannot be sent in a header"))?;
        let head = format!(
            r#"{{"jsonrpc":"2.0","method":{},"params":{}"#,
            Value::from(method),
            params
        );
        Ok(Self {
            method: HeaderValue::from_str(method).map_err(|e| e.to_string())?,
            name,
            head,
        })
    }

    /// The body of a request with this id, or of a notification (`None`).
    pub(crate) fn body(&self, id: Option<u64>) -> Bytes {
        match id {
            Some(id) => format!(r#"{},"id":{id}}}"#, self.head).into(),
            None => format!("{}}}", self.head).into(),
        }
    }
}

/// Everything a client of one run needs, shared by all of them.
#[derive(Debug)]
pub(crate) struct Plan {
    pub target: Target,
    pub era: Era,
    pub timeout: Duration,
    /// The version a legacy client asks for.
    pub version: String,
    pub initialize: Payload,
    pub initialized: Payload,
    /// The liveness check of `idle`: `ping`, or `tools/list` in the modern
    /// era (which removed `ping`).
    pub probe: Payload,
    pub listen: Payload,
    /// The tool call of `calls` and `overload`.
    pub call: Option<Payload>,
}

impl Plan {
    pub(crate) fn new(
        target: Target,
        common: &CommonArgs,
        tool: Option<&ToolArgs>,
    ) -> Result<Arc<Self>, String> {
        let era = common.era;
        let call = tool.map(|t| tool_call(era, t)).transpose()?;
        let init = json!({
            "protocolVersion": common.protocol_version,
            "capabilities": {},
            "clientInfo": {"name": "switchboard-bench", "version": env!("CARGO_PKG_VERSION")},
        });
        let listen = json!({"filter": {"toolsListChanged": true, "resourcesListChanged": true}});
        Ok(Arc::new(Self {
            target,
            era,
            timeout: common.timeout,
            version: common.protocol_version.clone(),
            initialize: Payload::new(Era::Legacy, "initialize", init)?,
            initialized: Payload::new(Era::Legacy, "notifications/initialized", json!({}))?,
            probe: match era {
                Era::Legacy => Payload::new(era, "ping", json!({}))?,
                Era::Modern => Payload::new(era, "tools/list", json!({}))?,
            },
            listen: Payload::new(era, "subscriptions/listen", listen)?,
            call,
        }))
    }
}

fn tool_call(era: Era, tool: &ToolArgs) -> Result<Payload, String> {
    let arguments: Value = serde_json::from_str(&tool.arguments)
        .map_err(|e| format!("--arguments is not JSON: {e}"))?;
    if !arguments.is_object() {
        return Err("--arguments must be a JSON object".into());
    }
    let params = json!({"name": tool.tool, "arguments": arguments});
    Payload::new(era, "tools/call", params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_bodies() {
        let p = Payload::new(Era::Legacy, "ping", json!({})).expect("ping");
        let v: Value = serde_json::from_slice(&p.body(Some(7))).expect("JSON");
        assert_eq!(
            v,
            json!({"jsonrpc": "2.0", "method": "ping", "params": {}, "id": 7})
        );
        let v: Value = serde_json::from_slice(&p.body(None)).expect("JSON");
        assert_eq!(v.get("id"), None);
        assert_eq!(p.name, None);
    }

    #[test]
    fn modern_bodies_carry_meta_and_name() {
        let tool = ToolArgs {
            tool: "echo".into(),
            arguments: r#"{"message":"hi"}"#.into(),
        };
        let p = tool_call(Era::Modern, &tool).expect("call");
        let v: Value = serde_json::from_slice(&p.body(Some(1))).expect("JSON");
        assert_eq!(v["params"]["arguments"]["message"], "hi");
        assert_eq!(
            v["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"],
            MODERN
        );
        assert_eq!(p.name.as_ref().map(|n| n.to_str().ok()), Some(Some("echo")));
        assert_eq!(p.method, "tools/call");
        let bad = ToolArgs {
            tool: "echo".into(),
            arguments: "[1]".into(),
        };
        assert!(tool_call(Era::Legacy, &bad).is_err());
    }
}
