//! The accept loop: connection caps (`conns`), back-off on failed accepts
//! (`accept`), TCP_NODELAY on every socket, HTTP/1.1 and HTTP/2 with header
//! limits (the protocol told from the first bytes without reading them:
//! `sniff`), the probe reserve's HTTP/1.1-only connections, and a graceful
//! stop.

use std::future::Future;
use std::time::Duration;

use futures_util::future::Either;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use switchboard_http::PeerAddr;
use switchboard_http::accept::Accept;
use switchboard_http::conns::{Admitted, Pool, Refusal};
use switchboard_http::error::TransportError;

use crate::app::App;

/// Most headers one request may carry.
const MAX_HEADERS: usize = 100;
/// Largest buffer for a request head (HTTP/1.1), in bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long a connection may take to send its request head (and, before
/// that, its first byte: `sniff`).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// What an HTTP/2 connection starts with (prior knowledge, RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long a probe-reserve connection may take to send its request head.
const PROBE_HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// The paths a probe-reserve connection may ask for.
const PROBE_PATHS: [&str; 4] = ["/healthz", "/health", "/readyz", "/metrics"];

/// Serve `app` on `listener` until `shutdown` resolves; then stop accepting
/// and taking new sessions, end every standalone SSE stream with a hint to
/// resume, and give in-flight requests the configured grace period to
/// finish.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let router = app.router();
    let builders = Builders::new();
    let graceful = GracefulShutdown::new();
    let background = app.start();
    log_limits(&app);
    let mut accept = Accept::new("mcp");
    let stop = app.shutdown_token().clone();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            conn = accept.next(&listener, &app.metrics().connections) => conn,
            _ = &mut shutdown => break,
        };
        match app.conns().admit(peer.ip()) {
            Ok(place) => builders.serve(stream, peer, place, &router, &app, &graceful, &stop),
            Err(reason) => switchboard_http::conns::refuse(stream, reason),
        }
    }
    // Drain: no new connection, no new session on a kept-alive one; the
    // GET streams end with a hint to resume elsewhere (`sse`); calls in
    // flight run on, their server events still logged and their answers
    // still routed from the other nodes, until they finish or the grace ends.
    // The reaper and the task sweep stop with the shutdown token.
    drop(listener);
    app.drain();
    app.shutdown_token().cancel();
    let grace = Duration::from_secs(app.config().shutdown_grace_secs);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over; dropping remaining connections");
    }
    // In-flight calls are done: hand this node's upstream sessions over,
    // then stop delivering server events.
    background.stop().await;
    Ok(())
}

/// The connection builders: every protocol for connections under the cap
/// (`main`, or `http1` once the first bytes are not HTTP/2's preface);
/// HTTP/1.1 alone, one request per connection and a short wait for its
/// head, for the probe reserve.
struct Builders {
    main: Builder<TokioExecutor>,
    http1: http1::Builder,
    probe: Builder<TokioExecutor>,
}

impl Builders {
    fn new() -> Self {
        let mut main = Builder::new(TokioExecutor::new());
        main.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEAD_TIMEOUT)
            .max_headers(MAX_HEADERS)
            .max_buf_size(MAX_HEAD_BYTES);
        main.http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(256)
            .max_header_list_size(MAX_HEAD_BYTES as u32);
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(HEAD_TIMEOUT)
            .max_headers(MAX_HEADERS)
            .max_buf_size(MAX_HEAD_BYTES);
        let mut probe = Builder::new(TokioExecutor::new()).http1_only();
        probe
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(PROBE_HEAD_TIMEOUT)
            .keep_alive(false)
            .max_headers(MAX_HEADERS)
            .max_buf_size(MAX_HEAD_BYTES);
        Self { main, http1, probe }
    }

    /// Serve an admitted connection on its own task; its place is given
    /// back when the connection ends.
    #[allow(clippy::too_many_arguments)]
    fn serve(
        &self,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        place: Admitted,
        router: &axum::Router,
        app: &App,
        graceful: &GracefulShutdown,
        stop: &CancellationToken,
    ) {
        let _ = stream.set_nodelay(true);
        let service = WithPeer {
            inner: router.clone(),
            peer: PeerAddr(peer),
        };
        let io = TokioIo::new(stream);
        if place.pool() == Pool::Probe {
            let service = TowerToHyperService::new(ProbeOnly {
                inner: service,
                app: app.clone(),
            });
            let conn = self.probe.serve_connection(io, service).into_owned();
            spawn_connection(graceful.watch(conn), place);
        } else {
            let (main, http1) = (self.main.clone(), self.http1.clone());
            let (watcher, stop) = (graceful.watcher(), stop.clone());
            tokio::spawn(async move {
                let service = TowerToHyperService::new(service);
                match sniff(io.inner(), &stop).await {
                    Some(Protocol::Http1) => {
                        let conn = http1.serve_connection(io, service);
                        run_connection(watcher.watch(conn), place).await;
                    }
                    Some(Protocol::Unknown) => {
                        // Rare (HTTP/2): boxed, so that the task of every
                        // HTTP/1.1 connection is not sized for it.
                        let conn = main.serve_connection_with_upgrades(io, service);
                        run_connection(Box::pin(watcher.watch(conn.into_owned())), place).await;
                    }
                    None => {} // gone, silent too long, or the server stops
                }
            });
        }
    }
}

/// What a connection's first bytes say it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// Not HTTP/2's preface: HTTP/1.1.
    Http1,
    /// HTTP/2's preface, or its first bytes so far: the auto builder reads
    /// on and decides.
    Unknown,
}

/// Tell HTTP/1.1 from HTTP/2 by peeking at the first bytes, so that
/// hyper's HTTP/1.1 connection reads the request from the socket itself.
/// (The auto builder reads the first 24 bytes and hands them back apart,
/// and hyper then grows the connection's read buffer from 8 to 16 KiB and
/// keeps it as long as the connection lives — a GET stream's whole life.)
/// `None`: the peer closed, sent nothing within the head timeout, or the
/// server is stopping.
async fn sniff(stream: &TcpStream, stop: &CancellationToken) -> Option<Protocol> {
    let mut first = [0u8; H2_PREFACE.len()];
    let peeked = tokio::select! {
        n = tokio::time::timeout(HEAD_TIMEOUT, stream.peek(&mut first)) => n.ok()?.ok()?,
        _ = stop.cancelled() => return None,
    };
    match first.get(..peeked)? {
        [] => None,
        seen if H2_PREFACE.starts_with(seen) => Some(Protocol::Unknown),
        _ => Some(Protocol::Http1),
    }
}

/// Run a connection to its end on a task of its own, then give its place back.
fn spawn_connection<E: std::fmt::Display + 'static>(
    conn: impl Future<Output = Result<(), E>> + Send + 'static,
    place: Admitted,
) {
    tokio::spawn(run_connection(conn, place));
}

/// Run a connection to its end, then give its place back.
async fn run_connection<E: std::fmt::Display>(
    conn: impl Future<Output = Result<(), E>>,
    place: Admitted,
) {
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
    drop(place);
}

/// One line at start: the connection caps and what they derive from.
fn log_limits(app: &App) {
    let l = app.conns().limits();
    tracing::info!(
        max_connections = l.total,
        max_connections_per_address = l.per_address,
        probe_connections = l.probes,
        admin_max_connections = l.admin,
        open_file_limit = app.conns().descriptors(),
        "connection caps"
    );
    if let Some(n) = app.config().max_connections
        && n > l.total
    {
        tracing::warn!(
            "max_connections = {n} leaves too few of the {} open files for probes, the admin \
             listener and upstreams: lowered to {} (raise the open-file limit to allow more)",
            app.conns().descriptors(),
            l.total
        );
    }
}

/// The router, with the connection's remote address put in every request's
/// extensions.
#[derive(Debug, Clone)]
struct WithPeer {
    inner: axum::Router,
    peer: PeerAddr,
}

type HttpRequest = http::Request<hyper::body::Incoming>;

impl tower_service::Service<HttpRequest> for WithPeer {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = <axum::Router as tower_service::Service<HttpRequest>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        tower_service::Service::<HttpRequest>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        req.extensions_mut().insert(self.peer);
        // HTTP/2 carries the host in `:authority`, not `Host`: give it the
        // header too, so the Host check and resource URLs see it.
        if !req.headers().contains_key(http::header::HOST)
            && let Some(value) = req
                .uri()
                .authority()
                .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
        {
            req.headers_mut().insert(http::header::HOST, value);
        }
        self.inner.call(req)
    }
}

/// A probe-reserve connection's service: the health checks and the
/// metrics are served, anything else gets the connection cap's 503.
#[derive(Debug, Clone)]
struct ProbeOnly {
    inner: WithPeer,
    app: App,
}

impl tower_service::Service<HttpRequest> for ProbeOnly {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = Either<
        std::future::Ready<Result<Self::Response, Self::Error>>,
        <WithPeer as tower_service::Service<HttpRequest>>::Future,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        if PROBE_PATHS.contains(&req.uri().path()) {
            return Either::Right(self.inner.call(req));
        }
        let reason = Refusal::ProbeOnly;
        let conns = self.app.conns();
        conns.refused(reason, &conns.limits());
        let mut resp = axum::response::IntoResponse::into_response(TransportError::from(reason));
        resp.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
        Either::Left(std::future::ready(Ok(resp)))
    }
}
