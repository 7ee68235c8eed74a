//! One access line per MCP request (target `switchboard::access`) and the
//! request's root span (target `switchboard::trace`, the client's
//! `traceparent` its parent).
//!
//! A front's layer [`begin`]s the record from a request's headers and runs
//! the handling within it ([`Request::serve`]); code on the way notes what
//! it learns ([`tenant`], [`session`], [`method`] and the name it is about,
//! [`outcome`]) into the request's record, carried in a task-local. A
//! handler task spawned with [`spawn`] carries the record and the span
//! along, so the line is written once the last of them is done — after a
//! streamed reply's last event, not at its headers. Nothing is kept when
//! the target is filtered out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use http::{HeaderMap, HeaderValue, Response};
use parking_lot::Mutex;
use tracing::Instrument;

/// The target of access lines.
pub const TARGET: &str = "switchboard::access";
/// The request-id header read from clients and echoed on responses.
const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: Arc<Access>;
}

/// What is known of one request; written as its access line when dropped.
#[derive(Debug)]
struct Access {
    start: Instant,
    id: String,
    front: &'static str,
    fields: Mutex<Fields>,
}

/// The fields noted on the way.
#[derive(Debug, Default)]
struct Fields {
    tenant: Option<String>,
    /// The first 8 characters of the session id — never the whole id.
    session: Option<String>,
    method: Option<String>,
    /// The tool, prompt or resource the request names.
    name: Option<String>,
    status: Option<u16>,
    outcome: Option<&'static str>,
    code: Option<i64>,
}

impl Drop for Access {
    fn drop(&mut self) {
        let f = self.fields.get_mut();
        let line = Line {
            request_id: &self.id,
            front: self.front,
            tenant: f.tenant.as_deref(),
            session: f.session.as_deref(),
            method: f.method.as_deref(),
            name: f.name.as_deref(),
            status: f.status,
            outcome: f.outcome.unwrap_or(match f.status {
                Some(200..=299) | None => "ok",
                Some(_) => "http_error",
            }),
            code: f.code,
            latency_ms: self.start.elapsed().as_secs_f64() * 1000.0,
        };
        match WRITER.get() {
            Some(write) => write(&line),
            None => line.emit(),
        }
    }
}

/// One finished request's access line, as a writer set with
/// [`write_with`] gets it.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// The client's `X-Request-Id` if sane, else one of ours.
    pub request_id: &'a str,
    /// The front that served it (`mcp`, `messages`).
    pub front: &'static str,
    /// The principal's tenant.
    pub tenant: Option<&'a str>,
    /// The session's first 8 characters.
    pub session: Option<&'a str>,
    /// The JSON-RPC method.
    pub method: Option<&'a str>,
    /// The tool, prompt or resource the request names.
    pub name: Option<&'a str>,
    /// The HTTP status of the response.
    pub status: Option<u16>,
    /// How the handler ended (`ok`, `tool_error`, `http_error`, …).
    pub outcome: &'static str,
    /// The JSON-RPC error code, for an error.
    pub code: Option<i64>,
    /// From the request's head to its last byte's handling.
    pub latency_ms: f64,
}

impl Line<'_> {
    /// The line as a `tracing` event of [`TARGET`], message `request`
    /// (how it is written when no writer is set; absent fields are left
    /// out).
    pub fn emit(&self) {
        tracing::info!(
            target: TARGET,
            request_id = self.request_id,
            front = self.front,
            tenant = self.tenant,
            session = self.session,
            method = self.method,
            name = self.name,
            status = self.status,
            outcome = self.outcome,
            code = self.code,
            latency_ms = self.latency_ms,
            "request"
        );
    }
}

/// A writer of access lines (see [`write_with`]).
pub type LineWriter = Box<dyn Fn(&Line<'_>) + Send + Sync>;

static WRITER: OnceLock<LineWriter> = OnceLock::new();

/// Have access lines written by `writer` instead of sent as `tracing`
/// events: for a log whose line is cheaper written from the record's
/// fields than visited from an event (the binary's JSON log, where
/// `tracing`'s dispatch and field visitor were most of the line's cost).
/// Whether a request has a line at all is still decided by the level of
/// the [`TARGET`] target when it begins. Once per process: false (and
/// `writer` unused) if a writer was set already.
pub fn write_with(writer: LineWriter) -> bool {
    WRITER.set(writer).is_ok()
}

/// A request's access record and root span, begun from its headers
/// before its handling starts (so the headers need not outlive it); the
/// handling runs within them through [`Request::serve`].
#[derive(Debug)]
#[must_use = "a request's record does nothing until it serves the handling"]
pub struct Request {
    span: tracing::Span,
    /// `None` when access lines are filtered out.
    access: Option<Arc<Access>>,
}

/// Begin the access record and root span of one request of `front`
/// (`mcp`, `messages`).
pub fn begin(front: &'static str, headers: &HeaderMap) -> Request {
    let span = tracing::debug_span!(
        target: switchboard_telemetry::TARGET,
        "request",
        otel.kind = "server",
        front,
        traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok()),
        method = tracing::field::Empty,
        tenant = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let logging = tracing::enabled!(target: TARGET, tracing::Level::INFO);
    let access = logging.then(|| {
        Arc::new(Access {
            start: Instant::now(),
            id: request_id(headers),
            front,
            fields: Mutex::new(Fields::default()),
        })
    });
    Request { span, access }
}

impl Request {
    /// Run `handle` within this record and span: the record is current
    /// for it (and for the tasks it starts with [`spawn`]), the response's
    /// status is noted, and the request id echoed in `X-Request-Id`.
    pub async fn serve<F, B>(self, handle: F) -> Response<B>
    where
        F: Future<Output = Response<B>>,
    {
        let Request { span, access } = self;
        let Some(access) = access else {
            return handle.instrument(span).await;
        };
        let id = HeaderValue::from_str(&access.id).ok();
        let mut response = CURRENT
            .scope(access.clone(), handle.instrument(span.clone()))
            .await;
        let status = response.status().as_u16();
        span.record("status", status);
        note(|f| f.status = Some(status), &access);
        if let Some(id) = id {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        response
    }
}

/// Note something about the current request (nothing outside one).
fn with(f: impl FnOnce(&mut Fields)) {
    let _ = CURRENT.try_with(|a| note(f, a));
}

fn note(f: impl FnOnce(&mut Fields), a: &Access) {
    f(&mut a.fields.lock());
}

/// Note the principal's tenant.
pub fn tenant(tenant: &str) {
    tracing::Span::current().record("tenant", tenant);
    with(|f| f.tenant = Some(tenant.to_owned()));
}

/// Note the session (only its first 8 characters are kept).
pub fn session(id: &str) {
    with(|f| f.session = Some(crate::ids::short(id).to_owned()));
}

/// Note the method and what it names (a tool, prompt or resource, as
/// [`switchboard_proto::params::named`] reads it from the params).
pub fn method(method: &str, named: Option<&str>) {
    tracing::Span::current().record("method", clip(method, 64));
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return;
    }
    let name = named.map(|n| clip(n, 128).to_owned());
    with(|f| {
        f.method = Some(clip(method, 64).to_owned());
        f.name = name;
    });
}

/// Note how the request's handler ended, with its JSON-RPC error code.
pub fn outcome(outcome: &'static str, code: Option<i64>) {
    with(|f| {
        f.outcome = Some(outcome);
        f.code = code;
    });
}

/// Spawn a request's handler task, carrying its access record and span.
///
/// The handler is boxed first: a handler's future is large (a call's whole
/// state machine), and without the box it was copied whole at each
/// wrapping and again into the task and its stage (about 1.3k
/// instructions a call in `memcpy`); boxed, those moves are a pointer's.
pub fn spawn<F>(task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let task = Box::pin(task).in_current_span();
    match CURRENT.try_with(Arc::clone) {
        Ok(a) => tokio::spawn(CURRENT.scope(a, task)),
        Err(_) => tokio::spawn(task),
    };
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The client's `X-Request-Id` if it is short and plain (letters, digits,
/// `-_.:`), else one of ours: a per-process random prefix and a counter.
fn request_id(headers: &HeaderMap) -> String {
    if let Some(v) = headers.get(&REQUEST_ID).and_then(|v| v.to_str().ok())
        && sane(v)
    {
        return v.to_owned();
    }
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut b = [0u8; 4];
        let _ = getrandom::fill(&mut b);
        u32::from_le_bytes(b)
    });
    let mut id = String::with_capacity(16);
    push_hex(&mut id, u64::from(*prefix), 8);
    push_hex(&mut id, NEXT.fetch_add(1, Ordering::Relaxed), 8);
    id
}

/// `v` in lowercase hex, at least `min` digits (`{v:0min$x}` without
/// `fmt`'s machinery: this is on every request).
fn push_hex(out: &mut String, v: u64, min: usize) {
    let digits = (64 - v.leading_zeros() as usize).div_ceil(4).max(min);
    for i in (0..digits).rev() {
        let nibble = ((v >> (4 * i)) & 0xf) as u32;
        out.extend(char::from_digit(nibble, 16));
    }
}

fn sane(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        let mut h = HeaderMap::new();
        let ours = request_id(&h);
        assert_eq!(ours.len(), 16);
        assert_ne!(ours, request_id(&h));
        h.insert(&REQUEST_ID, HeaderValue::from_static("abc-123:x.y_z"));
        assert_eq!(request_id(&h), "abc-123:x.y_z");
        for bad in ["a b", "x\"y", "", &"a".repeat(65)] {
            h.insert(&REQUEST_ID, HeaderValue::from_str(bad).unwrap());
            assert_ne!(request_id(&h), bad);
        }
    }

    #[test]
    fn hex_as_format_writes_it() {
        for (v, min) in [
            (0, 8),
            (0xab, 8),
            (u64::from(u32::MAX), 8),
            (u64::MAX, 8),
            (0x1_0000_0000, 8),
            (5, 1),
        ] {
            let mut s = String::new();
            push_hex(&mut s, v, min);
            assert_eq!(s, format!("{v:0min$x}"));
        }
    }

    #[test]
    fn clipping_cuts_at_a_character_boundary() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("héllo", 3), "hé");
        assert_eq!(clip("hello", 64), "hello");
    }
}
