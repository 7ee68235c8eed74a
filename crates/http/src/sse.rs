//! SSE framing and the response body of a stream: the [`Frame`]s a stream
//! carries, how each is written, and what ends the stream ([`StreamEnd`]).

use std::any::Any;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream;
use http::{HeaderValue, StatusCode, header};
use prometheus_client::metrics::gauge::Gauge;
use switchboard_observe::metrics::StreamGauge;
use switchboard_store::EventId;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

/// One SSE event on its way to a connection.
#[derive(Debug, Clone)]
pub struct Frame {
    /// `None` on streams that cannot be resumed (stateless requests).
    pub id: Option<EventId>,
    /// The event's data (one JSON-RPC message).
    pub data: Arc<str>,
}

/// Format one event. Data lines are split at every line end a reader sees
/// (LF, CRLF and a lone CR), so no line end in the payload can end a field,
/// or the event, early.
pub fn event(id: Option<EventId>, data: &str) -> Bytes {
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
pub fn priming(id: EventId, retry_ms: u64) -> Bytes {
    Bytes::from(format!("id: {id}\nretry: {retry_ms}\ndata: \n\n"))
}

const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// What ends a stream besides its sender closing, and what the stream
/// counts while it lives.
#[derive(Debug, Clone)]
pub struct StreamEnd {
    /// The session ended (or, for a stream of no session, its own token).
    pub session: CancellationToken,
    /// The server is shutting down.
    pub shutdown: CancellationToken,
    /// The open-streams gauge, counted while the body lives.
    pub streams: Gauge,
    /// The session's count of open streams, if the stream belongs to one.
    pub session_streams: Option<Arc<AtomicUsize>>,
    /// The tenant's open-streams gauge, for standalone streams.
    pub tenant_streams: Option<Gauge>,
    /// Dropped when the body ends: a place counted elsewhere (a quota's
    /// hold), released with the stream.
    pub held: Option<Arc<dyn Any + Send + Sync>>,
    /// A resumable stream ended by shutdown ends with an event carrying
    /// the id of the last event sent (this one before any) and a `retry`
    /// hint (ms), so the client resumes at another node.
    pub drain_hint: Option<(EventId, u64)>,
}

impl StreamEnd {
    /// A stream ended by `session` or `shutdown`, counted in `streams`;
    /// nothing else counted or held, no drain hint.
    pub fn new(session: CancellationToken, shutdown: CancellationToken, streams: Gauge) -> Self {
        Self {
            session,
            shutdown,
            streams,
            session_streams: None,
            tenant_streams: None,
            held: None,
            drain_hint: None,
        }
    }
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

/// Where a stream's body takes its frames from: the lazily allocated
/// `frames` channel (its impl is next to it), or a `tokio` one.
pub trait FrameSource: Send + 'static {
    /// The next frame; `None` once the stream has no more.
    fn next_frame(&mut self) -> impl std::future::Future<Output = Option<Frame>> + Send;
}

impl FrameSource for mpsc::Receiver<Frame> {
    fn next_frame(&mut self) -> impl std::future::Future<Output = Option<Frame>> + Send {
        self.recv()
    }
}

struct State<R> {
    _counted: StreamGauge,
    _session: Option<SessionStream>,
    _tenant: Option<StreamGauge>,
    _held: Option<Arc<dyn Any + Send + Sync>>,
    /// Held while the body lives: dropping the body (client gone) cancels.
    _guard: Option<DropGuard>,
    first: Option<Bytes>,
    rx: R,
    keep_alive: Duration,
    end: StreamEnd,
}

/// An SSE response that sends `first` (a priming event, say), then every
/// frame from `rx`, with keep-alive comments while idle. It ends when `rx`
/// closes, the session ends or the server shuts down.
pub fn response(
    first: Option<Bytes>,
    rx: impl FrameSource,
    keep_alive: Duration,
    end: StreamEnd,
) -> Response {
    response_guarded(first, rx, keep_alive, end, None)
}

/// Like [`response`]; `guard` is dropped with the body, cancelling its token
/// when the client goes away.
pub fn response_guarded(
    first: Option<Bytes>,
    rx: impl FrameSource,
    keep_alive: Duration,
    mut end: StreamEnd,
    guard: Option<DropGuard>,
) -> Response {
    let state = State {
        _counted: StreamGauge::new(&end.streams),
        _session: end.session_streams.as_ref().map(SessionStream::new),
        _tenant: end.tenant_streams.as_ref().map(StreamGauge::new),
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
            frame = st.rx.next_frame() => {
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
pub fn sse_headers(mut resp: Response) -> Response {
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
pub fn single(data: &str) -> Response {
    sse_headers(Response::new(Body::from(event(None, data))))
}

#[cfg(test)]
mod properties;
