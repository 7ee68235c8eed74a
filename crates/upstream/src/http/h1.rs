//! POSTs to a plain `http://` upstream on HTTP/1.1 connections of our own,
//! each driven by the call that holds it: no connection task, no task per
//! request, no hop between tasks — the call writes its request and the
//! socket's readiness wakes the call itself. Idle connections wait in a
//! pool shared by the upstream's sessions (at most `max_idle`, each for at
//! most 4 s); one the server closed meanwhile is noticed when taken, and
//! a request it could not take is sent once more on a fresh connection.
//!
//! (The profile of a relayed call through reqwest's pooled client showed a
//! connection task of its own, woken twice per call, a task spawned per
//! request to hand the connection back to the pool, and a URL parsed,
//! headers copied and retry and redirect layers run per request:
//! docs/benchmarks.md, "The relay".)

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpStream;

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum H1Error {
    /// No connection could be made.
    Connect(std::io::Error),
    /// The exchange failed on a connection.
    Http(hyper::Error),
    /// The connection closed before the request could be written.
    Closed,
}

impl std::fmt::Display for H1Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            H1Error::Connect(e) => write!(f, "{e}"),
            H1Error::Closed => f.write_str("the connection was closed"),
            H1Error::Http(e) => {
                write!(f, "{e}")?;
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    write!(f, ": {s}")?;
                    source = s.source();
                }
                Ok(())
            }
        }
    }
}

/// How long a connection may wait in the pool and still be taken. Node's
/// and uvicorn's servers close a keep-alive connection after 5 s idle; a
/// request written as the server closes is lost to a reset, and is not
/// sent again (it may have run). Seen in the client conformance suite:
/// a call made 5 s after the upstream's discovery failed so.
const IDLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(4);

/// One connection: the handle to send on, the connection to drive, and
/// since when it has waited in the pool.
struct Link {
    sender: SendRequest<Full<Bytes>>,
    conn: Connection<TokioIo<TcpStream>, Full<Bytes>>,
    idle_since: tokio::time::Instant,
}

impl Link {
    /// Drive the connection; false once it is over (closed or failed):
    /// then it must not be driven again.
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        Pin::new(&mut self.conn)
            .poll_without_shutdown(cx)
            .is_pending()
    }
}

/// The idle connections to one `http://` upstream, and where it is.
pub(crate) struct H1Pool {
    /// `host:port`, as connected to.
    addr: String,
    /// The `Host` header.
    host: HeaderValue,
    /// The request target (path and query).
    target: Uri,
    /// Boxed: a connection is taken out and put back whole, per call.
    #[allow(clippy::vec_box)]
    idle: Mutex<Vec<Box<Link>>>,
    max_idle: usize,
}

impl std::fmt::Debug for H1Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1Pool")
            .field("idle", &self.idle.lock().len())
            .finish_non_exhaustive()
    }
}

impl H1Pool {
    /// A pool for `url` if it is a plain `http://` URL without user info
    /// (those, and https, stay with reqwest: credentials in the URL, TLS),
    /// and no proxy is configured in the environment (reqwest honours one).
    pub(crate) fn for_url(url: &reqwest::Url, max_idle: usize) -> Option<Arc<Self>> {
        if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let proxied = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
        if proxied {
            return None;
        }
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        Some(Arc::new(Self {
            addr: format!("{host}:{port}"),
            host: HeaderValue::from_str(&authority).ok()?,
            target: target.parse().ok()?,
            idle: Mutex::default(),
            max_idle,
        }))
    }

    /// Connections idle in the pool now.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.idle.lock().len()
    }

    /// POST `body` with `headers`; the reply's head, its body read on.
    pub(crate) async fn post(
        self: &Arc<Self>,
        mut headers: HeaderMap,
        body: String,
    ) -> Result<H1Reply, H1Error> {
        headers.insert(HOST, self.host.clone());
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.target.clone();
        *request.headers_mut() = headers;
        // A pooled connection the server closed just now may refuse the
        // request before writing it: that one is sent again, once, on a
        // fresh connection.
        let (link, pooled) = match self.take() {
            Some(link) => (link, true),
            None => (self.connect().await?, false),
        };
        match send(link, request).await {
            Ok(done) => Ok(self.reply(done)),
            Err((error, Some(request))) if pooled => {
                tracing::debug!("a pooled connection was closed: {error}; sent on a fresh one");
                let link = self.connect().await?;
                match send(link, request).await {
                    Ok(done) => Ok(self.reply(done)),
                    Err((error, _)) => Err(error),
                }
            }
            Err((error, _)) => Err(error),
        }
    }

    fn reply(
        self: &Arc<Self>,
        (response, link): (Response<Incoming>, Option<Box<Link>>),
    ) -> H1Reply {
        let (head, body) = response.into_parts();
        let mut reply = H1Reply {
            head,
            body,
            link,
            pool: Arc::clone(self),
        };
        if reply.body.is_end_stream() {
            reply.release();
        }
        reply
    }

    /// An idle connection still open, and idle less than [`IDLE_LIMIT`],
    /// if there is one.
    fn take(&self) -> Option<Box<Link>> {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            let mut link = self.idle.lock().pop()?;
            if link.idle_since.elapsed() < IDLE_LIMIT
                && link.drive(&mut cx)
                && !link.sender.is_closed()
            {
                return Some(link);
            }
        }
    }

    /// Put a connection whose exchange is over back, if there is room.
    fn give_back(&self, mut link: Box<Link>) {
        let mut cx = Context::from_waker(Waker::noop());
        // Let the connection see the exchange end (and a close).
        if !link.drive(&mut cx) || link.sender.is_closed() {
            return;
        }
        link.idle_since = tokio::time::Instant::now();
        let mut idle = self.idle.lock();
        if idle.len() < self.max_idle {
            idle.push(link);
        }
    }

    async fn connect(&self) -> Result<Box<Link>, H1Error> {
        let tcp = TcpStream::connect(&self.addr)
            .await
            .map_err(H1Error::Connect)?;
        let _ = tcp.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(H1Error::Http)?;
        Ok(Box::new(Link {
            sender,
            conn,
            idle_since: tokio::time::Instant::now(),
        }))
    }
}

/// A request that failed, with the request back if it was never written.
type Unsent = (H1Error, Option<Request<Full<Bytes>>>);

/// Send `request` on `link`, driving it until the response's head is in.
/// The link comes back with the response unless the connection is over.
async fn send(
    mut link: Box<Link>,
    request: Request<Full<Bytes>>,
) -> Result<(Response<Incoming>, Option<Box<Link>>), Unsent> {
    let mut alive = true;
    let ready = poll_fn(|cx| {
        alive = link.drive(cx);
        match link.sender.poll_ready(cx) {
            Poll::Pending if !alive => Poll::Ready(false),
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => Poll::Ready(r.is_ok()),
        }
    })
    .await;
    if !ready {
        return Err((H1Error::Closed, Some(request)));
    }
    let mut sent = pin!(link.sender.try_send_request(request));
    let response = poll_fn(|cx| {
        if alive {
            alive = link.drive(cx);
        }
        match sent.as_mut().poll(cx) {
            // The connection is over without a word on the request (its
            // dispatcher answers every request it took before it ends).
            Poll::Pending if !alive => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => Poll::Ready(Some(r)),
        }
    })
    .await;
    let Some(response) = response else {
        return Err((H1Error::Closed, None));
    };
    match response {
        Ok(response) => Ok((response, alive.then_some(link))),
        Err(mut e) => {
            let request = e.take_message();
            Err((H1Error::Http(e.into_error()), request))
        }
    }
}

/// A reply whose body is read on its connection, driven by the reader;
/// the connection goes back to the pool once the body has been read.
pub(crate) struct H1Reply {
    pub(crate) head: http::response::Parts,
    body: Incoming,
    /// Boxed: a connection is large, and replies move.
    link: Option<Box<Link>>,
    pool: Arc<H1Pool>,
}

impl H1Reply {
    /// The next piece of the body; `None` at its end.
    pub(crate) async fn chunk(&mut self) -> Option<Result<Bytes, H1Error>> {
        loop {
            let (link, body) = (&mut self.link, &mut self.body);
            let frame = poll_fn(|cx| {
                if let Some(l) = link
                    && !l.drive(cx)
                {
                    *link = None;
                }
                Pin::new(&mut *body).poll_frame(cx)
            })
            .await;
            match frame {
                None => {
                    self.release();
                    return None;
                }
                Some(Err(e)) => {
                    self.link = None;
                    return Some(Err(H1Error::Http(e)));
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue; // trailers
                    };
                    if self.body.is_end_stream() {
                        self.release();
                    }
                    return Some(Ok(data));
                }
            }
        }
    }

    fn release(&mut self) {
        if let Some(link) = self.link.take() {
            self.pool.give_back(link);
        }
    }
}

#[cfg(test)]
mod tests;
