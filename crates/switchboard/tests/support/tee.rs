//! A TCP relay that records what goes through it towards the server, and
//! reads the HTTP/1.1 requests back out of those bytes: a real upstream
//! behind it, and the test sees the very headers the upstream got.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as sent: its head (request line and headers) and body.
pub struct Request {
    pub head: String,
    pub body: String,
}

impl Request {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// The bytes one connection sent to the server.
type Bytes = Arc<Mutex<Vec<u8>>>;

/// A relay on an ephemeral loopback port to `target` (`host:port`).
pub struct Tee {
    pub addr: String,
    /// The bytes sent to the server, per connection.
    sent: Arc<Mutex<Vec<Bytes>>>,
}

impl Tee {
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let keep = sent.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let record = Arc::new(Mutex::new(Vec::new()));
                keep.lock().unwrap().push(record.clone());
                tokio::spawn(relay(conn, target.clone(), record));
            }
        });
        Self { addr, sent }
    }

    /// The requests sent through so far, connection by connection.
    pub fn requests(&self) -> Vec<Request> {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .flat_map(|bytes| parse(&bytes.lock().unwrap()))
            .collect()
    }
}

async fn relay(client: TcpStream, target: String, record: Bytes) {
    let Ok(server) = TcpStream::connect(&target).await else {
        return;
    };
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut server_rx, mut server_tx) = server.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_rx, &mut client_tx).await;
        let _ = client_tx.shutdown().await;
    });
    let mut chunk = [0u8; 8192];
    loop {
        let n = match client_rx.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        record.lock().unwrap().extend_from_slice(&chunk[..n]);
        if server_tx.write_all(&chunk[..n]).await.is_err() {
            break;
        }
    }
    let _ = server_tx.shutdown().await;
}

/// The complete requests in one connection's bytes (bodies by
/// `Content-Length`; a request without one has none).
fn parse(mut bytes: &[u8]) -> Vec<Request> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut request = Request {
            head,
            body: String::new(),
        };
        let length: usize = request
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let rest = &bytes[end + 4..];
        if rest.len() < length {
            break;
        }
        request.body = String::from_utf8_lossy(&rest[..length]).into_owned();
        out.push(request);
        bytes = &rest[length..];
    }
    out
}
