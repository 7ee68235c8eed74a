//! Reading a reply: the status, the session header, and the JSON-RPC
//! response whether it comes as `application/json` or inside a
//! `text/event-stream` (server messages before it are skipped).

use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http::header::CONTENT_TYPE;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::stats::ErrorKind;

/// The largest JSON body read.
const MAX_BODY: usize = 16 << 20;

/// What a successful reply carried.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    /// The `Mcp-Session-Id` response header.
    pub session: Option<String>,
    /// `result.protocolVersion`, if present.
    pub version: Option<String>,
}

/// Just enough of a JSON-RPC message to classify it.
#[derive(Deserialize)]
struct Message {
    method: Option<IgnoredAny>,
    result: Option<Probe>,
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "isError")]
    is_error: Option<bool>,
    #[serde(rename = "protocolVersion")]
    protocol_version: Option<String>,
}

/// Read a reply that must carry a JSON-RPC response (JSON or SSE).
pub(crate) async fn message(resp: Response<Incoming>) -> Result<Answer, ErrorKind> {
    let session = resp
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let sse = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let status = resp.status().as_u16();
    let body = resp.into_body();
    if status != 200 {
        drain(body).await;
        return Err(ErrorKind::from_status(status));
    }
    let version = if sse {
        from_stream(body).await?
    } else {
        let bytes = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|_| ErrorKind::Io)?
            .to_bytes();
        classify(&bytes)?.ok_or(ErrorKind::BadReply)?
    };
    Ok(Answer { session, version })
}

/// Read a reply for its status only (notification, DELETE).
pub(crate) async fn status(resp: Response<Incoming>) -> Result<u16, ErrorKind> {
    let status = resp.status().as_u16();
    drain(resp.into_body()).await;
    Ok(status)
}

/// Read the body to its end, ignoring it.
async fn drain(mut body: Incoming) {
    while let Some(Ok(_)) = body.frame().await {}
}

/// The response in an event stream. After it, the stream should end; it is
/// given a second to, then dropped (which closes the connection).
async fn from_stream(mut body: Incoming) -> Result<Option<String>, ErrorKind> {
    let mut scan = SseScan::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ErrorKind::Io)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        scan.push(&data);
        while let Some(event) = scan.next_event() {
            if event.is_empty() {
                continue;
            }
            if let Some(version) = classify(&event)? {
                let _ = tokio::time::timeout(Duration::from_secs(1), drain(body)).await;
                return Ok(version);
            }
        }
    }
    Err(ErrorKind::BadReply)
}

/// `Ok(Some(version))` for a successful response, `Ok(None)` for a message
/// from the server (request or notification), `Err` for a failure.
pub(crate) fn classify(bytes: &[u8]) -> Result<Option<Option<String>>, ErrorKind> {
    let msg: Message = serde_json::from_slice(bytes).map_err(|_| ErrorKind::BadReply)?;
    if msg.method.is_some() {
        return Ok(None);
    }
    if msg.error.is_some() {
        return Err(ErrorKind::JsonRpc);
    }
    let result = msg.result.ok_or(ErrorKind::BadReply)?;
    if result.is_error == Some(true) {
        return Err(ErrorKind::ToolError);
    }
    Ok(Some(result.protocol_version))
}

/// An incremental SSE parser that yields each event's data (lines joined by `\n`).
#[derive(Debug, Default)]
pub(crate) struct SseScan {
    buf: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
}

impl SseScan {
    pub(crate) fn push(&mut self, chunk: &Bytes) {
        self.buf.extend_from_slice(chunk);
    }

    /// The data of the next complete event, if one is buffered.
    pub(crate) fn next_event(&mut self) -> Option<Vec<u8>> {
        let mut start = 0;
        let mut found = None;
        while let Some(nl) = self.buf[start..].iter().position(|b| *b == b'\n') {
            let line = &self.buf[start..start + nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            start += nl + 1;
            if line.is_empty() {
                if std::mem::take(&mut self.has_data) {
                    found = Some(std::mem::take(&mut self.data));
                    break;
                }
            } else if let Some(value) = line.strip_prefix(b"data:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
        }
        self.buf.drain(..start);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_messages() {
        let ok = br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}]}}"#;
        assert_eq!(classify(ok), Ok(Some(None)));
        let init = br#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18"}}"#;
        assert_eq!(classify(init), Ok(Some(Some("2025-06-18".into()))));
        let note = br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#;
        assert_eq!(classify(note), Ok(None));
        let err = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"no"}}"#;
        assert_eq!(classify(err), Err(ErrorKind::JsonRpc));
        let tool = br#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}"#;
        assert_eq!(classify(tool), Err(ErrorKind::ToolError));
        assert_eq!(classify(b"<html>"), Err(ErrorKind::BadReply));
        assert_eq!(classify(br#"{"id":1}"#), Err(ErrorKind::BadReply));
    }

    #[test]
    fn scans_events_across_chunks() {
        let mut s = SseScan::default();
        s.push(&Bytes::from_static(
            b"id: 1-0\r\ndata: \r\n\r\n: keep-alive\n\nda",
        ));
        assert_eq!(
            s.next_event(),
            Some(Vec::new()),
            "priming event, empty data"
        );
        assert_eq!(s.next_event(), None, "a comment is no event");
        s.push(&Bytes::from_static(b"ta: {\"a\":\ndata: 1}\n"));
        assert_eq!(s.next_event(), None, "event not complete yet");
        s.push(&Bytes::from_static(b"\nevent: message\ndata: x\n\n"));
        assert_eq!(s.next_event(), Some(b"{\"a\":\n1}".to_vec()));
        assert_eq!(s.next_event(), Some(b"x".to_vec()));
        assert_eq!(s.next_event(), None);
    }
}
