//! The accept loop out of file descriptors (issue 16, defect 8): accepts
//! failing with `EMFILE` are counted and retried with back-off, and once
//! descriptors are free again the waiting connection is served.
//!
//! This test lowers the process's open-file limit, so it lives alone in its
//! own test binary (nothing else runs in its process).

use std::net::Ipv4Addr;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use switchboard_testkit::{RawConn, TestServer, sample};

const DESCRIPTOR_FAILURES: &str =
    r#"switchboard_accept_errors_total{listener="mcp",kind="descriptors"}"#;

#[tokio::test]
async fn accepts_failing_for_descriptors_are_counted_retried_and_then_served() {
    let server = TestServer::start().await;
    let mut scrape = RawConn::open(server.addr, Ipv4Addr::LOCALHOST).await;
    assert_eq!(scrape.get("/healthz").await.status, 200);

    // Use up every descriptor, under a limit lowered to a few more than
    // are open now; then give one back for a client socket, so the server
    // cannot accept that client's connection.
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    let open_now = std::fs::read_dir("/proc/self/fd").expect("fds").count() as u64;
    setrlimit(Resource::RLIMIT_NOFILE, open_now + 16, hard).expect("lower the limit");
    let mut files = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        files.push(f);
        assert!(files.len() < 1000, "the lowered limit holds");
    }
    files.pop();
    let waiting = RawConn::open(server.addr, Ipv4Addr::LOCALHOST).await;

    // The loop fails, backs off and tries again (counted, not logged each
    // time), and the connection it could not take stays in the backlog.
    let mut tries = 0;
    let failures = loop {
        let m = scrape.get("/metrics").await.body;
        let failures = sample(&m, DESCRIPTOR_FAILURES).expect("the family is exposed");
        if failures >= 3.0 {
            break failures;
        }
        tries += 1;
        assert!(tries < 500, "the accept loop stopped trying: {failures}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    assert!(failures >= 3.0);

    // Descriptors back: the waiting connection is taken and served.
    drop(files);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).expect("restore the limit");
    let mut waiting = waiting;
    let reply = waiting.get("/healthz").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let m = scrape.get("/metrics").await.body;
    let open = sample(&m, r#"switchboard_connections_open{pool="main"}"#).expect("gauge");
    assert_eq!(
        open, 2.0,
        "the scraper's connection and the one that waited"
    );
}
