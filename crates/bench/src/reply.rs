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

/// An incremental SSE parser that yields each event's data (lines joined by
/// `\n`). Lines end with LF, CRLF or a lone CR, as the format allows.
#[derive(Debug, Default)]
pub(crate) struct SseScan {
    buf: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    /// The last line ended with a CR at the end of the buffer: an LF
    /// arriving next belongs to it.
    after_cr: bool,
}

impl SseScan {
    pub(crate) fn push(&mut self, chunk: &Bytes) {
        self.buf.extend_from_slice(chunk);
    }

    /// The data of the next complete event, if one is buffered.
    pub(crate) fn next_event(&mut self) -> Option<Vec<u8>> {
        let mut start = 0;
        if !self.buf.is_empty() && std::mem::take(&mut self.after_cr) && self.buf[0] == b'\n' {
            start = 1;
        }
        let mut found = None;
        while let Some(n) = self.buf[start..]
            .iter()
            .position(|b| *b == b'\n' || *b == b'\r')
        {
            let end = start + n;
            let line = &self.buf[start..end];
            let cr = self.buf[end] == b'\r';
            start = match self.buf.get(end + 1) {
                Some(b'\n') if cr => end + 2,
                None if cr => {
                    self.after_cr = true;
                    end + 1
                }
                _ => end + 1,
            };
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

    mod properties {
        //! Property tests of the bench's SSE scan: no panic on any bytes,
        //! chunking changes nothing, and the data of events written by the
        //! format's rules (every line ending, comments, other fields, the
        //! optional space) reads back exactly. Case counts are for CI;
        //! `PROPTEST_CASES=<n>` runs `n` (docs/testing.md).

        use proptest::prelude::*;
        use proptest::test_runner::Config as ProptestConfig;

        use super::*;

        fn cases(n: u32) -> ProptestConfig {
            let from_env = std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|v| v.parse().ok());
            ProptestConfig {
                cases: from_env.unwrap_or(n),
                ..ProptestConfig::default()
            }
        }

        /// The events' data of `body` arriving cut at `cuts`.
        fn scan(body: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
            cuts.sort_unstable();
            let (mut s, mut out, mut from) = (SseScan::default(), Vec::new(), 0);
            for to in cuts.into_iter().chain([body.len()]) {
                s.push(&Bytes::copy_from_slice(&body[from..to]));
                from = to;
                while let Some(event) = s.next_event() {
                    out.push(event);
                }
            }
            out
        }

        /// An event: its data lines, an id and a type maybe, and how its
        /// lines are written (line end, space after the colon, a comment).
        type Event = (
            Vec<String>,
            Option<String>,
            Option<String>,
            (&'static str, bool, bool),
        );

        fn event() -> impl Strategy<Value = Event> {
            (
                prop::collection::vec("[^\r\n]{0,10}", 1..4),
                prop::option::of("[^\r\n]{0,6}"),
                prop::option::of("[^\r\n]{1,6}"),
                (
                    prop::sample::select(&["\n", "\r\n", "\r"][..]),
                    any::<bool>(),
                    any::<bool>(),
                ),
            )
        }

        fn write(events: &[Event]) -> (Vec<u8>, Vec<Vec<u8>>) {
            let mut text = String::new();
            let mut want = Vec::new();
            for (data, id, kind, (end, space, comment)) in events {
                let field = |text: &mut String, name: &str, value: &str| {
                    let sp = if *space || value.starts_with(' ') {
                        " "
                    } else {
                        ""
                    };
                    text.push_str(&format!("{name}:{sp}{value}{end}"));
                };
                if *comment {
                    text.push_str(&format!(": keep-alive{end}"));
                }
                if let Some(id) = id {
                    field(&mut text, "id", id);
                }
                if let Some(kind) = kind {
                    field(&mut text, "event", kind);
                }
                for line in data {
                    field(&mut text, "data", line);
                }
                text.push_str(end);
                want.push(data.join("\n").into_bytes());
            }
            (text.into_bytes(), want)
        }

        proptest! {
            #![proptest_config(cases(4000))]

            #[test]
            fn any_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
                let _ = scan(&body, &cuts);
            }

            #[test]
            fn chunking_changes_nothing(
                body in prop::collection::vec(prop::sample::select(b"data: x\r\n:".to_vec()), 0..96),
                cuts in prop::collection::vec(any::<usize>(), 1..8),
            ) {
                prop_assert_eq!(scan(&body, &[]), scan(&body, &cuts));
            }
        }

        proptest! {
            #![proptest_config(cases(2000))]

            #[test]
            fn written_events_read_back(events in prop::collection::vec(event(), 0..5), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
                let (body, want) = write(&events);
                prop_assert_eq!(scan(&body, &cuts), want, "{:?}", String::from_utf8_lossy(&body));
            }
        }
    }
}
