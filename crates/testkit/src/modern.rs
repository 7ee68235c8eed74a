//! A raw client for the stateless era (2026-07-28): every request carries
//! its headers and `_meta`; nothing is remembered between requests.

use serde_json::{Value, json};

use crate::client::{McpClient, Reply};

/// The protocol version of the stateless era.
pub const MODERN: &str = "2026-07-28";

/// Builds and sends stateless requests.
#[derive(Debug, Clone)]
pub struct ModernClient {
    /// The HTTP client every request goes through.
    pub http: reqwest::Client,
    /// The MCP endpoint, e.g. `http://127.0.0.1:1234/mcp`.
    pub url: String,
    /// The client capabilities sent in every `_meta`.
    pub capabilities: Value,
}

impl ModernClient {
    /// A client of the endpoint `url`, without credentials, sending empty
    /// capabilities.
    pub fn new(url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            capabilities: json!({}),
        }
    }

    /// A client that sends `Authorization: Bearer <token>` on every request.
    pub fn with_token(url: &str, token: &str) -> Self {
        Self {
            http: crate::client::bearer_client(token),
            ..Self::new(url)
        }
    }

    /// `params` with the required `_meta` added (fields already in
    /// `params._meta` win).
    pub fn with_meta(&self, mut params: Value) -> Value {
        let mut meta = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": self.capabilities,
        });
        if let Some(extra) = params.get("_meta").and_then(Value::as_object) {
            for (k, v) in extra {
                meta[k] = v.clone();
            }
        }
        params["_meta"] = meta;
        params
    }

    /// A POST with the mirrored headers of `method`/`params` set correctly.
    pub fn post(&self, method: &str, params: &Value) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", MODERN)
            .header("mcp-method", method);
        let name = match method {
            "tools/call" | "prompts/get" => params.get("name"),
            "resources/read" => params.get("uri"),
            "tasks/get" | "tasks/update" | "tasks/cancel" => params.get("taskId"),
            _ => None,
        };
        if let Some(name) = name.and_then(Value::as_str) {
            rb = rb.header("mcp-name", name);
        }
        rb
    }

    /// Send a request (with `_meta` added) and classify the reply.
    pub async fn request(&self, id: u64, method: &str, params: Value) -> Reply {
        let params = self.with_meta(params);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        McpClient::classify(
            self.post(method, &params)
                .body(body.to_string())
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    /// Send a request and return its response message, reading an SSE reply
    /// to its end; notifications before it are returned too.
    pub async fn call(&self, method: &str, params: Value) -> (Value, Vec<Value>) {
        match self.request(1, method, params).await {
            Reply::Json(v) => (v, Vec::new()),
            Reply::Sse(mut r) => {
                let mut before = Vec::new();
                while let Some(ev) = r.next().await {
                    let Some(v) = ev.json() else { continue };
                    if v.get("method").is_none() {
                        return (v, before);
                    }
                    before.push(v);
                }
                panic!("stream ended without a response; got {before:?}")
            }
            Reply::Other(s, body) => panic!("{method}: HTTP {s}: {body}"),
        }
    }
}
