//! SSE framing and the response body of a stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream;
use http::{HeaderValue, StatusCode, header};
use switchboard_store::EventId;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::live::Frame;

/// Format one event. Data lines are split at every line end a reader sees
/// (LF, CRLF and a lone CR), so no line end in the payload can end a field,
/// or the event, early.
pub(crate) fn event(id: Option<EventId>, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 48);
    if let Some(id) = id {
        out.push_str("id: ");
        out.push_str(&id.to_string());
        out.push('\n');
    }
    out.push_str("event: message\n");
    let mut rest = Some(data);
    while let Some(text) = rest {
        let (line, next) = match text.find(['\r', '\n']) {
            Some(end) if text[end..].starts_with("\r\n") => (&text[..end], Some(&text[end + 2..])),
            Some(end) => (&text[..end], Some(&text[end + 1..])),
            None => (text, None),
        };
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
        rest = next;
    }
    out.push('\n');
    Bytes::from(out)
}

/// A priming event: an id to resume from, empty data and a reconnection hint.
pub(crate) fn priming(id: EventId, retry_ms: u64) -> Bytes {
    Bytes::from(format!("id: {id}\nretry: {retry_ms}\ndata: \n\n"))
}

const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// What ends a stream besides its sender closing.
#[derive(Debug, Clone)]
pub(crate) struct StreamEnd {
    /// The session ended.
    pub(crate) session: CancellationToken,
    /// The server is shutting down.
    pub(crate) shutdown: CancellationToken,
    /// The open-streams gauge, counted while the body lives.
    pub(crate) streams: prometheus_client::metrics::gauge::Gauge,
    /// The session's count of open streams, if the stream belongs to one.
    pub(crate) session_streams: Option<Arc<AtomicUsize>>,
    /// The tenant's open-streams gauge, for standalone streams.
    pub(crate) tenant_streams: Option<prometheus_client::metrics::gauge::Gauge>,
    /// Released when the body ends (a place counted elsewhere).
    pub(crate) held: Option<Arc<crate::capacity::Held>>,
    /// A resumable stream ended by shutdown ends with an event carrying
    /// the id of the last event sent (this one before any) and a `retry`
    /// hint (ms), so the client resumes at another node.
    pub(crate) drain_hint: Option<(EventId, u64)>,
}

/// Holds one unit of a session's open-stream count while a body lives.
struct SessionStream(Arc<AtomicUsize>);

impl SessionStream {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for SessionStream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct State {
    _counted: switchboard_observe::metrics::StreamGauge,
    _session: Option<SessionStream>,
    _tenant: Option<switchboard_observe::metrics::StreamGauge>,
    _held: Option<Arc<crate::capacity::Held>>,
    /// Held while the body lives: dropping the body (client gone) cancels.
    _guard: Option<DropGuard>,
    first: Option<Bytes>,
    rx: mpsc::Receiver<Frame>,
    keep_alive: Duration,
    end: StreamEnd,
}

/// An SSE response that sends `first` (a priming event, say), then every
/// frame from `rx`, with keep-alive comments while idle. It ends when `rx`
/// closes, the session ends or the server shuts down.
pub(crate) fn response(
    first: Option<Bytes>,
    rx: mpsc::Receiver<Frame>,
    keep_alive: Duration,
    end: StreamEnd,
) -> Response {
    response_guarded(first, rx, keep_alive, end, None)
}

/// Like [`response`]; `guard` is dropped with the body, cancelling its token
/// when the client goes away.
pub(crate) fn response_guarded(
    first: Option<Bytes>,
    rx: mpsc::Receiver<Frame>,
    keep_alive: Duration,
    mut end: StreamEnd,
    guard: Option<DropGuard>,
) -> Response {
    let state = State {
        _counted: switchboard_observe::metrics::StreamGauge::new(&end.streams),
        _session: end.session_streams.as_ref().map(SessionStream::new),
        _tenant: end
            .tenant_streams
            .as_ref()
            .map(switchboard_observe::metrics::StreamGauge::new),
        _held: end.held.take(),
        _guard: guard,
        first,
        rx,
        keep_alive,
        end,
    };
    let body = stream::unfold(state, |mut st| async move {
        if let Some(first) = st.first.take() {
            return Some((Ok::<_, Infallible>(first), st));
        }
        let bytes = tokio::select! {
            biased;
            _ = st.end.session.cancelled() => return None,
            _ = st.end.shutdown.cancelled() => {
                let (id, retry) = st.end.drain_hint.take()?;
                priming(id, retry)
            }
            frame = st.rx.recv() => {
                let f = frame?;
                if let (Some(id), Some((last, _))) = (f.id, st.end.drain_hint.as_mut()) {
                    *last = id;
                }
                event(f.id, &f.data)
            }
            _ = tokio::time::sleep(st.keep_alive) => Bytes::from_static(KEEP_ALIVE),
        };
        Some((Ok(bytes), st))
    });
    sse_headers(Response::new(Body::from_stream(body)))
}

/// Set the headers every SSE response carries.
pub(crate) fn sse_headers(mut resp: Response) -> Response {
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// An SSE response carrying one message, then closed.
pub(crate) fn single(data: &str) -> Response {
    sse_headers(Response::new(Body::from(event(None, data))))
}

#[cfg(test)]
mod properties;
