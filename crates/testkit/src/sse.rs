//! A minimal SSE reader over a response body.

use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

/// One SSE event (comments are skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `id:` field; `None` if the event had none.
    pub id: Option<String>,
    /// The `event:` field (the event type); `None` if the event had none.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n` (empty if there were none).
    pub data: String,
    /// The `retry:` field in milliseconds; `None` if absent or not a number.
    pub retry: Option<u64>,
}

impl SseEvent {
    /// The data as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.data).ok()
    }
}

/// Reads events from a streaming response body.
pub struct SseReader {
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: BytesMut,
}

impl std::fmt::Debug for SseReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SseReader")
    }
}

impl SseReader {
    /// A reader of `resp`'s body as it streams in.
    pub fn new(resp: reqwest::Response) -> Self {
        Self {
            body: resp.bytes_stream().boxed(),
            buf: BytesMut::new(),
        }
    }

    /// The next event; `None` when the stream ends. Panics after 10 s of silence
    /// so a broken test fails instead of hanging.
    pub async fn next(&mut self) -> Option<SseEvent> {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("SSE event within 10 s")
    }

    /// The next event, or `Err(())` if none arrives within `limit`.
    #[allow(clippy::result_unit_err)]
    pub async fn next_within(&mut self, limit: Duration) -> Result<Option<SseEvent>, ()> {
        loop {
            if let Some(ev) = self.take_event() {
                return Ok(Some(ev));
            }
            match tokio::time::timeout(limit, self.body.next()).await {
                Err(_) => return Err(()),
                Ok(None) | Ok(Some(Err(_))) => return Ok(None),
                Ok(Some(Ok(chunk))) => self.buf.extend_from_slice(&chunk),
            }
        }
    }

    /// Every remaining event until the stream ends.
    pub async fn collect(mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while let Some(ev) = self.next().await {
            out.push(ev);
        }
        out
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            let text = std::str::from_utf8(&self.buf).ok()?;
            let end = text.find("\n\n")?;
            let block = text[..end].to_owned();
            let _ = self.buf.split_to(end + 2);
            if let Some(ev) = parse_block(&block) {
                return Some(ev);
            }
        }
    }
}

fn parse_block(block: &str) -> Option<SseEvent> {
    let mut ev = SseEvent::default();
    let mut data = Vec::new();
    let mut any = false;
    for line in block.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        any = true;
        match field {
            "id" => ev.id = Some(value.to_owned()),
            "event" => ev.event = Some(value.to_owned()),
            "data" => data.push(value.to_owned()),
            "retry" => ev.retry = value.parse().ok(),
            _ => {}
        }
    }
    ev.data = data.join("\n");
    any.then_some(ev)
}
