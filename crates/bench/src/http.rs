//! One HTTP/1.1 keep-alive connection per virtual client, on hyper's
//! low-level client connection: no pool, no shared lock, one request at a
//! time — what a single MCP client does, at the least CPU per request.

use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HOST};
use http::{HeaderName, HeaderValue, Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::stats::ErrorKind;
use crate::target::Target;

/// A request as sent.
pub(crate) type Req = Request<Full<Bytes>>;

/// A lazily (re)connected connection to the target.
#[derive(Debug)]
pub(crate) struct Link {
    addr: SocketAddr,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl Link {
    /// Not connected until the first request.
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self { addr, conn: None }
    }

    /// Forget the connection (after a timeout or a half-read reply).
    pub(crate) fn reset(&mut self) {
        self.conn = None;
    }

    /// Send one request, connecting first if the connection is gone.
    pub(crate) async fn send(&mut self, req: Req) -> Result<Response<Incoming>, ErrorKind> {
        let mut conn = match self.conn.take() {
            Some(mut conn) => match conn.ready().await {
                Ok(()) => conn,
                Err(_) => connect(self.addr).await?,
            },
            None => connect(self.addr).await?,
        };
        let resp = conn.send_request(req).await.map_err(|_| ErrorKind::Io)?;
        self.conn = Some(conn);
        Ok(resp)
    }
}

/// Open a TCP connection (no Nagle) and run its HTTP/1.1 driver in a task
/// that ends when the connection closes or the sender is dropped.
async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, ErrorKind> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|_| ErrorKind::Connect)?;
    let _ = tcp.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|_| ErrorKind::Connect)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A request to the target with `Host` set and no other header.
pub(crate) fn request(target: &Target, method: Method, body: Bytes) -> Req {
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = method;
    *req.uri_mut() = target.path.clone();
    req.headers_mut().insert(HOST, target.host.clone());
    req
}

/// A JSON POST accepting JSON or SSE.
pub(crate) fn post(target: &Target, body: Bytes) -> Req {
    let mut req = request(target, Method::POST, body);
    let h = req.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(
        ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    req
}

/// Add a header.
pub(crate) fn with(mut req: Req, name: &'static str, value: HeaderValue) -> Req {
    req.headers_mut()
        .insert(HeaderName::from_static(name), value);
    req
}
