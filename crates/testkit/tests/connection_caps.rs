//! Connection caps (issue 16, defect 8): past `max_connections` and the
//! probe reserve a connection is refused as it is accepted and counted,
//! while `/healthz` and `/metrics` still answer through the reserve; one
//! address is held to `max_connections_per_address` unless exempt; the
//! admin listener has its own cap; the accept loop serves on.

use std::net::Ipv4Addr;

use serde_json::Value;
use switchboard_server::Config;
use switchboard_testkit::{RawConn, TestServer, sample};

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn config(toml: &str) -> Config {
    Config::from_toml(toml).expect("config")
}

/// A connection from `from` that the server admitted under its cap: an
/// unknown path gets the router's 404 (a probe-reserve connection would
/// get a 503).
async fn admitted(server: &TestServer, from: Ipv4Addr) -> RawConn {
    let mut conn = RawConn::open(server.addr, from).await;
    let reply = conn.get("/nope").await;
    assert_eq!(reply.status, 404, "{reply:?}");
    conn
}

/// A refused connection: the fixed 503, naming the cap, then closed.
async fn assert_refused(conn: RawConn, reason: &str) {
    let answer = conn.read_until_closed().await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
    assert!(answer.contains("retry-after: 1"), "{answer:?}");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let body: Value = serde_json::from_str(body).expect("a JSON-RPC error body");
    assert_eq!(body["error"]["code"], -32000, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(reason), "{body}");
}

fn count(metrics: &str, series: &str) -> f64 {
    sample(metrics, series).unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
}

#[tokio::test]
async fn past_the_cap_connections_are_refused_and_counted_while_probes_answer() {
    let server = TestServer::with(
        config("max_connections = 4\nprobe_connections = 3"),
        everything(),
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(admitted(&server, LOOPBACK).await);
    }
    // Accepted in order: three into the probe reserve, the fourth refused.
    let mut healthz = RawConn::open(server.addr, LOOPBACK).await;
    let mut other = RawConn::open(server.addr, LOOPBACK).await;
    let mut metrics = RawConn::open(server.addr, LOOPBACK).await;
    let refused = RawConn::open(server.addr, LOOPBACK).await;
    assert_refused(refused, "total_cap").await;

    let reply = healthz.get("/healthz").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.contains("\"ok\""), "{reply:?}");
    let reply = other.get("/mcp").await;
    assert_eq!(reply.status, 503, "a reserve connection serves probes only");
    assert!(reply.body.contains("probe_only"), "{reply:?}");
    let reply = metrics.get("/metrics").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let m = reply.body;
    let refused = r#"switchboard_connections_refused_total{reason="total_cap"}"#;
    assert_eq!(count(&m, refused), 1.0);
    let probe_only = r#"switchboard_connections_refused_total{reason="probe_only"}"#;
    assert_eq!(count(&m, probe_only), 1.0);
    assert_eq!(
        count(&m, r#"switchboard_connections_open{pool="main"}"#),
        4.0
    );
    let ratio = r#"switchboard_capacity_ratio{resource="connections"}"#;
    assert_eq!(count(&m, ratio), 1.0);

    // The accept loop serves on: a place given back is taken again.
    drop(held.pop());
    let mut tries = 0;
    loop {
        let mut conn = RawConn::open(server.addr, LOOPBACK).await;
        if conn.get("/nope").await.status == 404 {
            break;
        }
        tries += 1;
        assert!(tries < 200, "the freed place was never taken again");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn one_address_is_held_to_its_cap_unless_exempt() {
    let server = TestServer::with(
        config("max_connections = 100\nmax_connections_per_address = 2"),
        everything(),
    )
    .await;
    let capped = Ipv4Addr::new(127, 0, 0, 2);
    let _a = admitted(&server, capped).await;
    let _b = admitted(&server, capped).await;
    assert_refused(RawConn::open(server.addr, capped).await, "per_address_cap").await;
    // Another address is not held to the first one's count, and loopback
    // (the default `per_address_exempt`) not at all.
    let _c = admitted(&server, Ipv4Addr::new(127, 0, 0, 3)).await;
    let mut exempt = Vec::new();
    for _ in 0..5 {
        exempt.push(admitted(&server, LOOPBACK).await);
    }
    let m = exempt[0].get("/metrics").await.body;
    let per_address = r#"switchboard_connections_refused_total{reason="per_address_cap"}"#;
    assert_eq!(count(&m, per_address), 1.0);
    let total = r#"switchboard_connections_refused_total{reason="total_cap"}"#;
    assert_eq!(count(&m, total), 0.0);
    assert_eq!(
        count(&m, r#"switchboard_connections_open{pool="main"}"#),
        8.0
    );
}

#[tokio::test]
async fn loopback_is_capped_too_when_not_exempt() {
    let server = TestServer::with(
        config("max_connections_per_address = 3\nper_address_exempt = []"),
        everything(),
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(admitted(&server, LOOPBACK).await);
    }
    assert_refused(
        RawConn::open(server.addr, LOOPBACK).await,
        "per_address_cap",
    )
    .await;
    let m = held[0].get("/metrics").await.body;
    let per_address = r#"switchboard_connections_refused_total{reason="per_address_cap"}"#;
    assert_eq!(count(&m, per_address), 1.0);
}

#[tokio::test]
async fn the_admin_listener_has_its_own_cap_and_answers_when_the_main_one_is_full() {
    let digest = "ab".repeat(32);
    let server = TestServer::with(
        config(&format!(
            "max_connections = 1\nprobe_connections = 0\n\
             [admin]\ntoken_sha256 = \"{digest}\"\nmax_connections = 2"
        )),
        everything(),
    )
    .await;
    let mut main = admitted(&server, LOOPBACK).await;
    assert_refused(RawConn::open(server.addr, LOOPBACK).await, "total_cap").await;
    let admin = server.admin_addr.expect("the admin listener runs");
    let mut first = RawConn::open(admin, LOOPBACK).await;
    let reply = first.get("/dashboard").await;
    assert_eq!(reply.status, 200, "the admin listener answers: {reply:?}");
    let mut second = RawConn::open(admin, LOOPBACK).await;
    assert_eq!(second.get("/dashboard").await.status, 200);
    assert_refused(RawConn::open(admin, LOOPBACK).await, "admin_cap").await;
    let m = main.get("/metrics").await.body;
    let admin_cap = r#"switchboard_connections_refused_total{reason="admin_cap"}"#;
    assert_eq!(count(&m, admin_cap), 1.0);
    assert_eq!(
        count(&m, r#"switchboard_connections_open{pool="admin"}"#),
        2.0
    );
}

fn everything() -> switchboard_runtime::CatalogBuilder {
    switchboard_everything::everything()
}
