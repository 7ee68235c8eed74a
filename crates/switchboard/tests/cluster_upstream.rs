//! A `per_session` stdio upstream behind three `switchboard serve` nodes on
//! one Redis: a session's calls, wherever they land, reach the one process
//! its owner node holds (a per-process counter counts 1, 2, 3, … through
//! every node); the owner killed with SIGKILL, or drained with SIGTERM, the
//! next call elsewhere gets the takeover notice and the session goes on
//! with a fresh process; a forged internal forwarding header is refused.

use crate::redis_support;
use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use redis_support::RedisProcess;
use serde_json::{Value, json};
use support::Node;
use switchboard_testkit::{McpClient, Reply};

/// A generous bound on one call, far below the drain test's lease.
const PATIENCE: Duration = Duration::from_secs(60);

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../upstream/tests/fixtures/fixture_server.py"
);

/// A configuration with the fixture as a `per_session` upstream `up` and
/// an owner lease of `lease_ms`.
fn config(name: &str, lease_ms: u64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("switchboard.toml");
    std::fs::write(
        &path,
        format!(
            "owner_lease_ms = {lease_ms}\n\n[[upstreams]]\nname = \"up\"\ncommand = \"python3\"\n\
             args = [\"{SCRIPT}\"]\nmode = \"per_session\"\ncall_timeout_secs = 20\n"
        ),
    )
    .unwrap();
    path
}

fn nodes(redis: &RedisProcess, name: &str, n: usize, lease_ms: u64) -> Vec<Node> {
    let prefix = redis_support::unique_prefix(name);
    let config = config(name, lease_ms);
    (0..n)
        .map(|_| Node::on_redis(Some(&config), &redis.url(), &prefix))
        .collect()
}

/// `tools/call up__count` through `url`: the whole JSON-RPC response.
async fn count_at(c: &mut McpClient, url: &str) -> Value {
    c.url = url.to_owned();
    let (resp, _) = c
        .call("tools/call", json!({"name": "up__count", "arguments": {}}))
        .await;
    resp
}

fn value(resp: &Value) -> u64 {
    resp["result"]["structuredContent"]["value"]
        .as_u64()
        .unwrap_or_else(|| panic!("a count: {resp}"))
}

/// The takeover notice: a JSON-RPC error, never a 404.
fn assert_reset(resp: &Value) {
    assert_eq!(resp["error"]["code"], -32010, "{resp}");
    assert_eq!(resp["error"]["data"]["reason"], "upstream_reset", "{resp}");
}

#[tokio::test]
async fn a_session_keeps_one_process_through_every_node_and_survives_its_owner() {
    let redis = RedisProcess::start();
    let mut nodes = nodes(&redis, "owner-kill", 3, 1500);
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let mut c = McpClient::new(&urls[0]);
    c.initialize(json!({})).await;

    // Each call at the next node: one counter, so one process (on node 1,
    // which took the first call).
    for (i, expected) in (1..=6).enumerate() {
        let resp = count_at(&mut c, &urls[(i + 1) % 3]).await;
        assert_eq!(value(&resp), expected, "call {expected}: {resp}");
    }

    // The owner dies: the next call elsewhere waits out its lease, takes
    // the session over and says so; the retry counts on a fresh process.
    nodes[1].child.kill().expect("SIGKILL");
    let _ = nodes[1].child.wait();
    assert_reset(&count_at(&mut c, &urls[2]).await);
    for (url, expected) in [(&urls[0], 1), (&urls[2], 2), (&urls[0], 3)] {
        let resp = count_at(&mut c, url).await;
        assert_eq!(value(&resp), expected, "{resp}");
    }
    assert!(
        nodes[2].logged().lines().all(|l| !l.contains("panicked")),
        "{}",
        nodes[2].logged()
    );
}

#[tokio::test]
async fn a_drained_owner_hands_its_sessions_over() {
    let redis = RedisProcess::start();
    // A lease far longer than the test may wait: only a release lets
    // another node take over in time.
    let mut nodes = nodes(&redis, "owner-drain", 2, 600_000);
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let mut c = McpClient::new(&urls[0]);
    c.initialize(json!({})).await;
    assert_eq!(value(&count_at(&mut c, &urls[0]).await), 1);
    assert_eq!(value(&count_at(&mut c, &urls[1]).await), 2);

    let pid = nodes[0].child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = nodes[0].child.wait().unwrap();
    assert!(exit.success(), "a clean stop: {exit:?}");
    // Released at the drain: the next call takes over at once.
    let first = tokio::time::timeout(PATIENCE, count_at(&mut c, &urls[1]))
        .await
        .expect("no wait for the lease: the drained node released it");
    assert_reset(&first);
    assert_eq!(value(&count_at(&mut c, &urls[1]).await), 1);
}

#[tokio::test]
async fn a_forged_forwarding_header_is_refused() {
    let redis = RedisProcess::start();
    let nodes = nodes(&redis, "owner-forged", 1, 1500);
    let mut c = McpClient::new(&nodes[0].url);
    c.initialize(json!({})).await;
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "up__count", "arguments": {}}});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    for forged in [
        "1.AAAA".to_owned(),
        format!("{now}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        "garbage".to_owned(),
    ] {
        let resp = c
            .post()
            .header(switchboard_server::FORWARD_HEADER, &forged)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{forged}");
        match McpClient::classify(resp).await {
            Reply::Other(_, text) => assert!(text.contains("forwarding"), "{text}"),
            other => panic!("{other:?}"),
        }
    }
    // Unsigned, the same request is served (and counts once: nothing ran).
    let (resp, _) = c
        .call("tools/call", json!({"name": "up__count", "arguments": {}}))
        .await;
    assert_eq!(value(&resp), 1, "{resp}");
}
