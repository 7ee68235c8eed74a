//! The pool against a raw HTTP/1.1 server on a runtime of its own (its own
//! thread), so that the tasks of the test's runtime are the client's alone.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// What the server saw: connections accepted and closed, request heads.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    closed: AtomicUsize,
    heads: Mutex<Vec<String>>,
}

/// Serve on 127.0.0.1 from another thread: each request is answered with
/// its body as a JSON reply; with `close`, the connection is closed after
/// each reply (without saying so in a header).
fn server(close: bool) -> (String, Arc<Seen>) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/mcp?k=v", std_listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let log = seen.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            while let Ok((stream, _)) = listener.accept().await {
                log.connections.fetch_add(1, Ordering::SeqCst);
                let seen = log.clone();
                tokio::spawn(async move {
                    // The stream is closed when `answer` returns.
                    answer(stream, close, seen.clone()).await;
                    seen.closed.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
    });
    (url, seen)
}

/// Read requests (head and `Content-Length` body) and echo each body.
async fn answer(mut stream: TcpStream, close: bool, seen: Arc<Seen>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        while buf.len() < end + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..end + length).skip(end).collect();
        seen.heads.lock().push(head);
        let mut reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        reply.extend_from_slice(&body);
        if stream.write_all(&reply).await.is_err() || close {
            return;
        }
    }
}

fn pool(url: &str, max_idle: usize) -> Arc<H1Pool> {
    H1Pool::for_url(&reqwest::Url::parse(url).unwrap(), max_idle).unwrap()
}

/// POST `body`; the reply's body.
async fn post(pool: &Arc<H1Pool>, body: &str) -> String {
    let mut reply = pool.post(HeaderMap::new(), body.to_owned()).await.unwrap();
    assert_eq!(reply.head.status, 200);
    let mut text = Vec::new();
    while let Some(chunk) = reply.chunk().await {
        text.extend_from_slice(&chunk.unwrap());
    }
    String::from_utf8(text).unwrap()
}

/// Sequential POSTs share one connection, driven by the caller: no task is
/// ever spawned on the caller's runtime (reqwest's pooled client keeps a
/// task per connection and spawns one per request).
#[tokio::test(flavor = "current_thread")]
async fn posts_reuse_one_connection_without_tasks() {
    let (url, seen) = server(false);
    let pool = pool(&url, 4);
    let metrics = tokio::runtime::Handle::current().metrics();
    for n in 0..20 {
        let body = format!(r#"{{"n":{n}}}"#);
        assert_eq!(post(&pool, &body).await, body);
        assert_eq!(metrics.num_alive_tasks(), 0, "a task besides the caller");
    }
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    assert_eq!(pool.idle(), 1);
    let port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
    let heads = seen.heads.lock();
    assert_eq!(heads.len(), 20);
    for head in heads.iter() {
        assert!(head.starts_with("post /mcp?k=v http/1.1\r\n"), "{head}");
        assert!(
            head.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")),
            "{head}"
        );
    }
}

/// A connection the server closed while it was idle is not used again.
#[tokio::test(flavor = "current_thread")]
async fn a_connection_the_server_closed_is_replaced() {
    let (url, seen) = server(true);
    let pool = pool(&url, 4);
    for n in 0..5 {
        let body = format!(r#"{{"n":{n}}}"#);
        assert_eq!(post(&pool, &body).await, body);
        // Idle, and closed by the server, before the next POST; and the
        // runtime's I/O driver has run since (a socket's readiness is what
        // the driver last saw). Without this wait the next request can race
        // the close: written to a socket whose end is on its way, it fails,
        // as it would with any client, and is not sent again, having been
        // written.
        for _ in 0..10_000 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            if seen.closed.load(Ordering::SeqCst) > n {
                break;
            }
        }
        assert_eq!(seen.closed.load(Ordering::SeqCst), n + 1);
    }
    assert_eq!(seen.connections.load(Ordering::SeqCst), 5);
}

/// A connection idle for `IDLE_LIMIT` is not taken again: a server with a
/// 5 s keep-alive (Node's, uvicorn's) may close it just as a request is
/// written on it. The client's clock moves; the server keeps the
/// connection open.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_connection_idle_past_the_limit_is_not_reused() {
    let (url, seen) = server(false);
    let pool = pool(&url, 4);
    assert_eq!(post(&pool, "[1]").await, "[1]");
    tokio::time::advance(IDLE_LIMIT - std::time::Duration::from_millis(1)).await;
    assert_eq!(post(&pool, "[2]").await, "[2]");
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        1,
        "reused within the limit"
    );
    tokio::time::advance(IDLE_LIMIT).await;
    assert_eq!(post(&pool, "[3]").await, "[3]");
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        2,
        "a fresh one past it"
    );
    assert_eq!(pool.idle(), 1);
}

/// Concurrent POSTs open a connection each; at most `max_idle` are kept.
#[tokio::test(flavor = "current_thread")]
async fn idle_connections_are_capped() {
    let (url, seen) = server(false);
    let pool = pool(&url, 2);
    let posts = (0..6).map(|n| {
        let pool = pool.clone();
        async move { post(&pool, &format!("[{n}]")).await }
    });
    let replies = futures_util::future::join_all(posts).await;
    assert_eq!(
        replies,
        (0..6).map(|n| format!("[{n}]")).collect::<Vec<_>>()
    );
    assert_eq!(seen.connections.load(Ordering::SeqCst), 6);
    assert_eq!(pool.idle(), 2);
}

/// Only plain http:// URLs without credentials get a pool.
#[test]
fn only_plain_http_urls() {
    let for_url = |u: &str| H1Pool::for_url(&reqwest::Url::parse(u).unwrap(), 1).is_some();
    assert!(for_url("http://127.0.0.1:9/mcp"));
    assert!(for_url("http://[::1]:9/mcp"));
    assert!(!for_url("https://example.com/mcp"));
    assert!(!for_url("http://user:pw@example.com/mcp"));
}

/// No server: the error says connecting failed.
#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_server_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let pool = pool(&format!("http://127.0.0.1:{port}/mcp"), 1);
    let e = pool.post(HeaderMap::new(), String::new()).await.err();
    assert!(matches!(e, Some(H1Error::Connect(_))), "{e:?}");
}
