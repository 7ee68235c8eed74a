//! A 2024-11-05 HTTP+SSE client: `GET <sse>` opens the session's stream,
//! whose first event names the endpoint messages are posted to; answers
//! come back on the stream.

use serde_json::{Value, json};

use crate::sse::{SseEvent, SseReader};

/// One HTTP+SSE session.
#[derive(Debug)]
pub struct LegacyClient {
    http: reqwest::Client,
    bearer: Option<String>,
    /// The session's stream.
    pub events: SseReader,
    /// The endpoint event's data (`…/messages?sessionId=…`).
    pub endpoint: String,
    messages: String,
}

impl LegacyClient {
    /// Open the stream at `base` + `sse_path` (`base` is `http://addr`),
    /// with a bearer token if given.
    pub async fn open(base: &str, sse_path: &str, bearer: Option<&str>) -> Self {
        let http = reqwest::Client::new();
        let mut rb = http
            .get(format!("{base}{sse_path}"))
            .header("accept", "text/event-stream");
        if let Some(t) = bearer {
            rb = rb.bearer_auth(t);
        }
        let resp = rb.send().await.expect("GET the SSE stream");
        assert_eq!(resp.status(), 200, "GET {sse_path}");
        let mut events = SseReader::new(resp);
        let SseEvent { data: endpoint, .. } = events.next().await.expect("the endpoint event");
        Self {
            messages: format!("{base}{endpoint}"),
            http,
            bearer: bearer.map(str::to_owned),
            events,
            endpoint,
        }
    }

    /// POST one message; the HTTP status.
    pub async fn post(&self, message: Value) -> u16 {
        let mut rb = self
            .http
            .post(&self.messages)
            .header("content-type", "application/json")
            .body(message.to_string());
        if let Some(t) = &self.bearer {
            rb = rb.bearer_auth(t);
        }
        rb.send().await.expect("POST a message").status().as_u16()
    }

    /// `initialize` (2024-11-05) and `notifications/initialized`; the
    /// result of `initialize`.
    pub async fn initialize(&mut self) -> Value {
        self.post(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2024-11-05", "capabilities": {},
            "clientInfo": {"name": "legacy-test", "version": "1"}}}),
        )
        .await;
        let answer = self.answer(0).await;
        self.post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        answer["result"].clone()
    }

    /// Send request `id` and wait for its answer on the stream (the whole
    /// response message); what comes before it is skipped.
    pub async fn call(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        self.answer(id).await
    }

    async fn answer(&mut self, id: u64) -> Value {
        loop {
            let event = self.events.next().await.expect("the stream ended first");
            if let Some(v) = event.json()
                && v["id"] == id
                && v.get("method").is_none()
            {
                return v;
            }
        }
    }
}
