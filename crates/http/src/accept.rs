//! Taking connections off a listener. A failed accept — out of file
//! descriptors (`EMFILE`, `ENFILE`), out of memory, or anything else — is
//! counted (`switchboard_accept_errors_total`) and the listener backs off,
//! 5 ms doubling to 1 s, back to the start after a success; a line is
//! logged at most once every 10 s, with the number of failures it stands
//! for. A client that left before its connection was taken is counted and
//! skipped at once.
//!
//! The admin listener's side: [`AdminListener`] accepts this way and admits
//! under `admin.max_connections` for `axum::serve`.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use switchboard_observe::metrics::Connections;
use switchboard_observe::throttle::{LOG_EVERY, Throttle};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::conns::{self, Admitted, Conns};

/// The first wait after a failed accept.
const FIRST_DELAY: Duration = Duration::from_millis(5);
/// The longest wait between two tries.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// One listener's accepting: its back-off and its throttled log.
#[derive(Debug)]
pub struct Accept {
    /// The listener's name in metrics and logs (`mcp`, `admin`).
    listener: &'static str,
    delay: Option<Duration>,
    warn: Throttle,
}

impl Accept {
    /// Accepting on the listener named `listener` in metrics and logs.
    pub fn new(listener: &'static str) -> Self {
        Self {
            listener,
            delay: None,
            warn: Throttle::new(LOG_EVERY),
        }
    }

    /// The next connection on `listener`, however many accepts fail first
    /// (each counted in `metrics`).
    pub async fn next(
        &mut self,
        listener: &TcpListener,
        metrics: &Connections,
    ) -> (TcpStream, SocketAddr) {
        loop {
            let e = match listener.accept().await {
                Ok(conn) => {
                    self.delay = None;
                    return conn;
                }
                Err(e) => e,
            };
            let kind = kind_of(&e);
            metrics.accept_failed(self.listener, kind);
            if kind == "aborted" {
                continue;
            }
            if let Some(failures) = self.warn.hit(Instant::now()) {
                tracing::warn!(
                    listener = self.listener,
                    error = %e,
                    failures,
                    "accept failed; backing off (failures are counted in \
                     switchboard_accept_errors_total and logged at most every 10 s)"
                );
            }
            tokio::time::sleep(self.backoff()).await;
        }
    }

    /// The wait before the next try: doubling from 5 ms up to 1 s.
    fn backoff(&mut self) -> Duration {
        let next = self
            .delay
            .map_or(FIRST_DELAY, |d| d.saturating_mul(2).min(MAX_DELAY));
        self.delay = Some(next);
        next
    }
}

/// The metric's `kind` of an accept error.
fn kind_of(e: &std::io::Error) -> &'static str {
    use nix::errno::Errno;
    use std::io::ErrorKind;
    match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::EMFILE | Errno::ENFILE) => "descriptors",
        Some(Errno::ENOBUFS | Errno::ENOMEM) => "memory",
        _ if matches!(
            e.kind(),
            ErrorKind::ConnectionAborted
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionRefused
        ) =>
        {
            "aborted"
        }
        _ => "other",
    }
}

/// The admin listener for `axum::serve`: accepts with back-off, admits
/// under `admin.max_connections`, refuses the rest at once.
#[derive(Debug)]
pub struct AdminListener {
    listener: TcpListener,
    conns: Conns,
    accept: Accept,
}

impl AdminListener {
    /// Accept on `listener`, admitting under the admin cap of `conns`.
    pub fn new(listener: TcpListener, conns: Conns) -> Self {
        Self {
            listener,
            conns,
            accept: Accept::new("admin"),
        }
    }
}

impl axum::serve::Listener for AdminListener {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, peer) = self.accept.next(&self.listener, self.conns.metrics()).await;
            match self.conns.admit_admin() {
                Ok(place) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        Counted {
                            stream,
                            _place: place,
                        },
                        peer,
                    );
                }
                Err(reason) => conns::refuse(stream, reason),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// A connection holding its place under a cap until it is dropped.
#[derive(Debug)]
pub struct Counted {
    stream: TcpStream,
    _place: Admitted,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_doubles_to_a_second_and_starts_over_after_a_success() {
        let mut a = Accept::new("mcp");
        let waits: Vec<u128> = (0..10).map(|_| a.backoff().as_millis()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        a.delay = None;
        assert_eq!(a.backoff(), FIRST_DELAY);
    }

    #[test]
    fn accept_errors_are_sorted_by_kind() {
        let os = |n| std::io::Error::from_raw_os_error(n);
        assert_eq!(kind_of(&os(nix::libc::EMFILE)), "descriptors");
        assert_eq!(kind_of(&os(nix::libc::ENFILE)), "descriptors");
        assert_eq!(kind_of(&os(nix::libc::ENOBUFS)), "memory");
        assert_eq!(kind_of(&os(nix::libc::ECONNABORTED)), "aborted");
        assert_eq!(kind_of(&os(nix::libc::EINVAL)), "other");
        assert!(
            switchboard_observe::metrics::ACCEPT_ERROR_KINDS
                .contains(&kind_of(&os(nix::libc::EPERM)))
        );
    }
}
