//! Session quotas across three `switchboard serve` nodes on one Redis: a
//! tenant's `max_sessions` and `max_sessions_per_identity` are cluster-wide
//! totals, counted by the store at `initialize`, refused as one node refuses,
//! and given back when a session ends at any node; a tenant's rate is one
//! budget for the three. The same on a 3-master Redis Cluster.

use crate::redis_support;
use crate::support;

use std::path::Path;

use redis_support::{RedisCluster, RedisProcess};
use serde_json::json;
use support::Node;
use switchboard_testkit::{McpClient, ModernClient, Reply};

/// Tenant `b`'s burst; its rate earns nothing back during a test.
const BURST: usize = 6;

/// Tenant `a` (two keys, at most 4 sessions) and tenant `b` (one key, no
/// tenant quota, a rate of [`BURST`]); at most 3 sessions per identity
/// (tenant/key).
fn config(a1: &str, a2: &str, b: &str) -> String {
    format!(
        "max_sessions_per_identity = 3\n[auth]\nanonymous = \"off\"\n\
         [[tenants]]\nid = \"a\"\nmax_sessions = 4\napi_keys = [\
         {{ id = \"one\", sha256 = \"{a1}\" }}, {{ id = \"two\", sha256 = \"{a2}\" }}]\n\
         [[tenants]]\nid = \"b\"\napi_keys = [{{ id = \"one\", sha256 = \"{b}\" }}]\n\
         rate = {{ per_second = 0.0001, burst = {BURST} }}\n"
    )
}

/// An `initialize` at `url` with `key`: the status, the body and the session.
async fn initialize(url: &str, key: &str) -> (u16, String, Option<String>) {
    let c = McpClient::with_token(url, key);
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let resp = c.post().body(body.to_string()).send().await.expect("post");
    let sid = resp
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (
        resp.status().as_u16(),
        resp.text().await.expect("body"),
        sid,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_quotas_are_cluster_wide_totals() {
    let redis = RedisProcess::start();
    let url = redis.url();
    quotas_and_rates(|path, prefix| Node::on_redis(Some(path), &url, prefix)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_on_a_redis_cluster_of_three_masters() {
    let cluster = RedisCluster::start();
    let seeds = cluster.url();
    quotas_and_rates(|path, prefix| Node::on_redis_cluster(Some(path), &seeds, prefix)).await;
}

/// Three nodes from `start` (with a config file and a key prefix): quotas
/// and a tenant's rate hold across them.
async fn quotas_and_rates(start: impl Fn(&Path, &str) -> Node) {
    let prefix = redis_support::unique_prefix("quotas");
    let dir = std::env::temp_dir().join(format!("sb-{prefix}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("switchboard.toml");
    let (a1, a1_sha) = switchboard_auth::new_api_key();
    let (a2, a2_sha) = switchboard_auth::new_api_key();
    let (b, b_sha) = switchboard_auth::new_api_key();
    std::fs::write(&path, config(&a1_sha, &a2_sha, &b_sha)).expect("config");
    let nodes: Vec<Node> = (0..3).map(|_| start(&path, &prefix)).collect();

    // Tenant a, round-robin over the nodes and its two keys: 4 of 9.
    let mut admitted = Vec::new();
    for i in 0..9 {
        let key = if i % 2 == 0 { &a1 } else { &a2 };
        let node = &nodes[i % 3];
        let (status, body, sid) = initialize(&node.url, key).await;
        match sid {
            Some(sid) => admitted.push((node.url.clone(), key.clone(), sid)),
            None => {
                assert_eq!(status, 429, "{body}");
                assert!(
                    body.contains("max_sessions") && body.contains("-32"),
                    "the refusal one node gives: {body}"
                );
            }
        }
    }
    assert_eq!(admitted.len(), 4, "the tenant's total across the nodes");

    // One session ended at another node than its own: room for exactly one.
    let (own_url, key, sid) = admitted.pop().expect("a session");
    let elsewhere = nodes.iter().find(|n| n.url != own_url).expect("a node");
    let mut c = McpClient::with_token(&elsewhere.url, &key);
    c.session = Some(sid);
    assert!(c.delete().await.is_success());
    let (status, body, _) = initialize(&nodes[2].url, &a1).await;
    assert_eq!(status, 200, "a freed place is free cluster-wide: {body}");
    let (status, _, _) = initialize(&nodes[0].url, &a2).await;
    assert_eq!(status, 429, "and only one");

    // Per identity: tenant b's one key gets 3 sessions over the nodes.
    let mut per_identity = 0;
    for i in 0..6 {
        let (status, body, sid) = initialize(&nodes[i % 3].url, &b).await;
        if sid.is_some() {
            per_identity += 1;
        } else {
            assert_eq!(status, 503, "{body}");
            assert!(body.contains("per_identity_cap"), "{body}");
        }
    }
    assert_eq!(per_identity, 3, "the identity's total across the nodes");
    let _ = std::fs::remove_dir_all(&dir);

    // Tenant b's stateless calls, round-robin: its burst once in total.
    let (mut ok, mut limited) = (0, 0);
    for i in 0..(3 * BURST) {
        let client = ModernClient::with_token(&nodes[i % 3].url, &b);
        let params = json!({"name": "echo", "arguments": {"message": "hi"}});
        match client.request(i as u64, "tools/call", params).await {
            Reply::Other(status, _) if status.as_u16() == 429 => limited += 1,
            Reply::Other(status, body) => panic!("HTTP {status}: {body}"),
            Reply::Json(_) | Reply::Sse(_) => ok += 1,
        }
    }
    assert_eq!(ok, BURST, "the tenant's burst once, not once per node");
    assert_eq!(limited, 2 * BURST);
}
