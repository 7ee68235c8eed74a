//! A raw Streamable HTTP client for tests: every status, header and event
//! is visible to the test.

use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::sse::SseReader;

/// How the server answered a POST.
#[derive(Debug)]
pub enum Reply {
    /// 200 with `application/json`: the parsed body.
    Json(Value),
    /// 200 with `text/event-stream`: a reader of its events.
    Sse(SseReader),
    /// Any other status or content type.
    Other(StatusCode, String),
}

/// An HTTP client whose every request carries `Authorization: Bearer`.
pub fn bearer_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .expect("token is header-safe");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

/// A session-era MCP client over raw HTTP.
#[derive(Debug)]
pub struct McpClient {
    /// The HTTP client every request goes through.
    pub http: reqwest::Client,
    /// The MCP endpoint, e.g. `http://127.0.0.1:1234/mcp`.
    pub url: String,
    /// The `Mcp-Session-Id` sent with every request; `None` before
    /// [`McpClient::initialize`] (or after a server that gave none), and
    /// then neither it nor the version header is sent.
    pub session: Option<String>,
    /// The protocol version asked for in `initialize`, then the one the
    /// server chose (sent as `Mcp-Protocol-Version`). Default `2025-11-25`.
    pub version: String,
    next_id: AtomicU64,
}

impl McpClient {
    /// A client of the endpoint `url`, without a session or credentials.
    pub fn new(url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            session: None,
            version: "2025-11-25".into(),
            next_id: AtomicU64::new(1),
        }
    }

    /// A client that sends `Authorization: Bearer <token>` on every request.
    pub fn with_token(url: &str, token: &str) -> Self {
        Self {
            http: bearer_client(token),
            ..Self::new(url)
        }
    }

    /// A fresh request id.
    pub fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A POST with the usual headers (content type, accept, session, version).
    pub fn post(&self) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(s) = &self.session {
            rb = rb
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", &self.version);
        }
        rb
    }

    /// A GET on the endpoint with the session headers.
    pub fn get(&self) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .get(&self.url)
            .header("accept", "text/event-stream");
        if let Some(s) = &self.session {
            rb = rb
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", &self.version);
        }
        rb
    }

    /// Initialize with `protocolVersion` = `self.version` and these capabilities;
    /// remember the session id. Returns the result.
    pub async fn initialize(&mut self, capabilities: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": self.version, "capabilities": capabilities,
            "clientInfo": {"name": "testkit", "version": "1"}}});
        let resp = self
            .post()
            .body(body.to_string())
            .send()
            .await
            .expect("initialize");
        assert_eq!(resp.status(), StatusCode::OK, "initialize status");
        self.session = resp
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let v: Value = resp.json().await.expect("initialize JSON");
        if let Some(ver) = v["result"]["protocolVersion"].as_str() {
            self.version = ver.to_owned();
        }
        let status = self.notify("notifications/initialized", json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        v["result"].clone()
    }

    /// Send a notification; returns the status.
    pub async fn notify(&self, method: &str, params: Value) -> StatusCode {
        let body = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.post()
            .body(body.to_string())
            .send()
            .await
            .expect("notify")
            .status()
    }

    /// Post `answer`, a JSON-RPC response to one of the server's requests
    /// (`elicitation/create`, `roots/list`…); returns the status.
    pub async fn respond(&self, answer: &Value) -> StatusCode {
        self.post()
            .body(answer.to_string())
            .send()
            .await
            .expect("respond")
            .status()
    }

    /// Send a request and classify the reply.
    pub async fn request(&self, id: u64, method: &str, params: Value) -> Reply {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        Self::classify(
            self.post()
                .body(body.to_string())
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// Turn a response into a [`Reply`].
    pub async fn classify(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if status == StatusCode::OK && ct.starts_with("application/json") {
            Reply::Json(resp.json().await.expect("JSON body"))
        } else if status == StatusCode::OK && ct.starts_with("text/event-stream") {
            Reply::Sse(SseReader::new(resp))
        } else {
            Reply::Other(status, resp.text().await.unwrap_or_default())
        }
    }

    /// Send a request and wait for its response message, however it comes;
    /// messages before it (on SSE) are returned too.
    pub async fn call(&self, method: &str, params: Value) -> (Value, Vec<Value>) {
        let id = self.id();
        match self.request(id, method, params).await {
            Reply::Json(v) => (v, Vec::new()),
            Reply::Sse(mut r) => {
                let mut before = Vec::new();
                while let Some(ev) = r.next().await {
                    let Some(v) = ev.json() else { continue };
                    if v.get("id") == Some(&json!(id)) && v.get("method").is_none() {
                        return (v, before);
                    }
                    before.push(v);
                }
                panic!("stream ended without a response to {id}; got {before:?}")
            }
            Reply::Other(s, body) => panic!("{method}: HTTP {s}: {body}"),
        }
    }

    /// Call a tool and return its result object.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Value {
        let (resp, _) = self
            .call("tools/call", json!({"name": name, "arguments": arguments}))
            .await;
        resp["result"].clone()
    }

    /// End the session.
    pub async fn delete(&self) -> StatusCode {
        let mut rb = self.http.delete(&self.url);
        if let Some(s) = &self.session {
            rb = rb.header("mcp-session-id", s);
        }
        rb.send().await.expect("delete").status()
    }
}
