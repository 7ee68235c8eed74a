//! The listener tells HTTP/1.1 from HTTP/2 by peeking at a connection's
//! first bytes (`listener::sniff`): a request in one piece, one whose
//! bytes arrive one at a time (its first byte, `P`, is also HTTP/2's
//! preface's), and an HTTP/2 connection with prior knowledge are all
//! served; a connection that closes before sending a byte leaves the
//! server serving.

use std::net::Ipv4Addr;
use std::time::Duration;

use switchboard_testkit::{RawConn, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

#[tokio::test]
async fn http1_whole_or_byte_by_byte_and_http2_are_served() {
    let server = TestServer::start().await;

    let mut whole = RawConn::open(server.addr, LOOPBACK).await;
    assert_eq!(whole.get("/healthz").await.status, 200);

    // Closed before a byte: nothing to serve, and the server serves on.
    drop(TcpStream::connect(server.addr).await.expect("connect"));

    let request = "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
                   accept: application/json, text/event-stream\r\nconnection: close\r\n\
                   content-length: 35\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":1}";
    let mut slow = TcpStream::connect(server.addr).await.expect("connect");
    slow.set_nodelay(true).expect("nodelay");
    for (i, byte) in request.bytes().enumerate() {
        slow.write_all(&[byte]).await.expect("write");
        if i < 4 {
            // Let the server see "P", "PO", …: a prefix of HTTP/2's
            // preface at first, then not.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), slow.read_to_string(&mut answer))
        .await
        .expect("an answer within 10 s")
        .expect("read");
    // The body is not a valid request: a JSON-RPC error with a 400,
    // which shows the request was read whole and parsed.
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("\"jsonrpc\":\"2.0\""), "{answer}");

    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let resp = h2
        .get(format!("http://{}/healthz", server.addr))
        .send()
        .await
        .expect("an HTTP/2 answer");
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);

    assert_eq!(whole.get("/healthz").await.status, 200, "still serving");
}
