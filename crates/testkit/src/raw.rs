//! A raw HTTP/1.1 connection for connection-level tests: opened from a
//! chosen loopback source address (any of 127.0.0.0/8 on Linux), one
//! request at a time on a kept-alive socket (a `GET`, or any bytes), or
//! whatever the server wrote before it closed. Every read is bounded (10 s), so a test of a server
//! that never answers fails instead of hanging.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The longest any one read waits.
const READ_LIMIT: Duration = Duration::from_secs(10);

/// One TCP connection to the server.
#[derive(Debug)]
pub struct RawConn {
    stream: TcpStream,
}

/// A response read off a [`RawConn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawReply {
    /// The status code from the status line (0 if it has none).
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    /// The body: `Content-Length` bytes, invalid UTF-8 replaced.
    pub body: String,
}

impl RawConn {
    /// Connect to `server` from `from` (port chosen by the system).
    ///
    /// # Panics
    ///
    /// If the socket cannot be made or bound, or the connection fails.
    pub async fn open(server: SocketAddr, from: Ipv4Addr) -> Self {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from((from, 0)))
            .expect("bind the source address");
        let stream = socket.connect(server).await.expect("connect");
        Self { stream }
    }

    /// `GET path` and its response (`Content-Length` framed).
    ///
    /// # Panics
    ///
    /// If the connection fails or closes before a whole response, or no
    /// response comes within 10 s.
    pub async fn get(&mut self, path: &str) -> RawReply {
        self.send(&format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"))
            .await
    }

    /// Write `request` exactly as given (head and body: repeated or odd
    /// headers an HTTP client would merge or refuse) and read the response
    /// (`Content-Length` framed).
    ///
    /// # Panics
    ///
    /// As [`RawConn::get`].
    pub async fn send(&mut self, request: &str) -> RawReply {
        self.write(request).await;
        self.reply().await
    }

    /// Write `bytes` (a request, or a part of one) without waiting for
    /// anything back.
    ///
    /// # Panics
    ///
    /// If the connection fails.
    pub async fn write(&mut self, bytes: &str) {
        self.stream
            .write_all(bytes.as_bytes())
            .await
            .expect("write the request");
    }

    /// Read the next response (`Content-Length` framed).
    ///
    /// # Panics
    ///
    /// As [`RawConn::get`].
    pub async fn reply(&mut self) -> RawReply {
        tokio::time::timeout(READ_LIMIT, self.read_reply())
            .await
            .expect("a response within 10 s")
    }

    async fn read_reply(&mut self) -> RawReply {
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(at) = find(&buf, b"\r\n\r\n") {
                break at + 4;
            }
            self.fill(&mut buf).await;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .expect("a content-length");
        while buf.len() < head_end + length {
            self.fill(&mut buf).await;
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
        RawReply {
            status: status_of(&head),
            head,
            body,
        }
    }

    async fn fill(&mut self, buf: &mut Vec<u8>) {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the connection closed mid-response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }

    /// Everything the server writes until it closes the connection,
    /// without sending anything.
    ///
    /// # Panics
    ///
    /// If the connection is not closed within 10 s.
    pub async fn read_until_closed(mut self) -> String {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(READ_LIMIT, self.stream.read_to_end(&mut buf)).await;
        match read.expect("the server closes the connection within 10 s") {
            Ok(_) => {}
            // A reset after the answer still leaves the answer read.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("read: {e}"),
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn status_of(head: &str) -> u16 {
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The value of one series (`name{labels}` exactly as exposed) in a
/// Prometheus text exposition.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}
