//! The accept loop: TCP_NODELAY on every socket, HTTP/1.1 and HTTP/2 with
//! header limits, and a graceful stop.

use std::future::Future;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::app::App;

/// Most headers one request may carry.
const MAX_HEADERS: usize = 100;
/// Largest buffer for a request head (HTTP/1.1), in bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;

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
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .max_header_list_size(MAX_HEAD_BYTES as u32);
    let graceful = GracefulShutdown::new();
    let reaper = tokio::spawn(crate::reaper::run(app.clone()));
    let notifier = tokio::spawn(crate::notifier::run(app.clone()));
    let cluster = tokio::spawn(crate::cluster::run(app.clone()));
    let heartbeat = tokio::spawn(crate::owner::heartbeat(app.clone()));
    let task_sweep = tokio::spawn(crate::tasks::sweep::run(app.clone()));
    let fanout = app
        .cluster_events()
        .map(|c| tokio::spawn(crate::fanout::run(app.clone(), c.origin())));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(WithPeer {
            inner: router.clone(),
            peer: PeerAddr(peer),
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    // Drain: no new connection, no new session on a kept-alive one; the
    // GET streams end with a hint to resume elsewhere (`sse`); calls in
    // flight run on, their server events still logged and their answers
    // still routed from the other nodes, until they finish or the grace ends.
    drop(listener);
    app.drain();
    app.shutdown_token().cancel();
    reaper.abort();
    task_sweep.abort();
    let grace = Duration::from_secs(app.config().shutdown_grace_secs);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over; dropping remaining connections");
    }
    // In-flight calls are done: hand this node's upstream sessions over.
    heartbeat.abort();
    crate::owner::release(&app).await;
    notifier.abort();
    cluster.abort();
    if let Some(f) = fanout {
        f.abort();
    }
    Ok(())
}

/// The remote address of the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerAddr(pub(crate) std::net::SocketAddr);

/// Who a client is before authentication: its IP address.
pub(crate) fn identity(peer: Option<axum::Extension<PeerAddr>>) -> String {
    peer.map_or_else(
        || "unknown".to_owned(),
        |axum::Extension(p)| p.0.ip().to_string(),
    )
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
