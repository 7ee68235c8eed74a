//! `switchboard serve` with `store = "redis"`: two processes on one Redis
//! share sessions, a Redis that cannot be reached stops the start-up
//! with a clear message that keeps the password out, and a legacy
//! `tools/call` costs one Redis round trip.

use crate::support;
// The redis-server helper of the store-redis tests.
use crate::redis_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;

use redis_support::RedisProcess;
use serde_json::json;
use support::Node;
use switchboard_testkit::{McpClient, ModernClient, Reply};

fn redis_env<'a>(redis_url: &'a str, prefix: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("SWITCHBOARD_STORE", "redis"),
        ("SWITCHBOARD_REDIS_URL", redis_url),
        ("SWITCHBOARD_REDIS_PREFIX", prefix),
    ]
}

/// `switchboard serve` on the Redis at `redis_url`, keys under `prefix`.
fn node(redis_url: &str, prefix: &str) -> Node {
    Node::spawn(None, &redis_env(redis_url, prefix))
}

#[tokio::test]
async fn a_session_made_on_one_node_is_served_and_ended_by_another() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("serve");
    let (a, b) = (node(&redis.url(), &prefix), node(&redis.url(), &prefix));
    let mut client = McpClient::new(&a.url);
    client.initialize(json!({})).await;
    client.url = b.url.clone();
    let (listed, _) = client.call("tools/list", json!({})).await;
    assert!(listed["result"]["tools"].is_array(), "{listed}");
    let echoed = client.call_tool("echo", json!({"message": "hi"})).await;
    assert!(echoed.to_string().contains("hi"), "{echoed}");
    assert!(client.delete().await.is_success());
    client.url = a.url.clone();
    match client.request(99, "tools/list", json!({})).await {
        Reply::Other(status, _) => assert_eq!(status.as_u16(), 404),
        _ => panic!("the session ended on node b is still served by node a"),
    }
}

#[tokio::test]
async fn an_unreachable_redis_stops_the_start_with_a_clear_message() {
    let mut redis = RedisProcess::start();
    redis.kill();
    let url = format!("redis://app:hunter2@127.0.0.1:{}", redis.port);
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .envs(redis_env(&url, "switchboard"))
        .output()
        .expect("run switchboard");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot use Redis at redis://app:<redacted>@127.0.0.1"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

async fn ready_status(node: &Node) -> u16 {
    let url = node.url.replace("/mcp", "/readyz");
    reqwest::get(url).await.expect("readyz").status().as_u16()
}

#[tokio::test]
async fn redis_down_means_503_and_not_ready_until_it_is_back() {
    let mut redis = RedisProcess::start();
    let server = node(&redis.url(), &redis_support::unique_prefix("down"));
    assert_eq!(ready_status(&server).await, 200);
    let mut client = McpClient::new(&server.url);
    client.initialize(json!({})).await;

    redis.kill();
    assert_eq!(ready_status(&server).await, 503);
    match client.request(7, "tools/list", json!({})).await {
        Reply::Other(status, _) => assert_eq!(status.as_u16(), 503),
        _ => panic!("a request needing the store was served without it"),
    }

    let _back = RedisProcess::start_on(redis.port).expect("redis-server again on its port");
    let mut ready = false;
    for _ in 0..100 {
        if ready_status(&server).await == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "/readyz did not recover after Redis came back");
    // The new Redis is empty: a fresh session works.
    let mut fresh = McpClient::new(&server.url);
    fresh.initialize(json!({})).await;
    let (listed, _) = fresh.call("tools/list", json!({})).await;
    assert!(listed["result"]["tools"].is_array(), "{listed}");
}

#[tokio::test]
async fn a_stream_logged_on_one_node_is_replayed_by_another() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("replay");
    let (a, b) = (node(&redis.url(), &prefix), node(&redis.url(), &prefix));
    let mut client = McpClient::new(&a.url);
    client.initialize(json!({})).await;
    let logged = support::progress_call(&client).await;
    let first = logged[0].id.clone().expect("event id");

    client.url = b.url.clone();
    let resp = client
        .get()
        .header("last-event-id", &first)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200);
    let replayed = switchboard_testkit::SseReader::new(resp).collect().await;
    let ids: Vec<_> = replayed.iter().map(|e| e.id.clone()).collect();
    let expected: Vec<_> = logged[1..].iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, expected, "the rest of node a's stream, once, in order");
    assert_eq!(replayed[2].json().expect("JSON")["id"], json!(5));
}

#[tokio::test]
async fn a_tenant_spread_over_three_nodes_gets_its_rate_once() {
    let mut redis = RedisProcess::start();
    const BURST: usize = 6;
    let (key, sha256) = switchboard_auth::new_api_key();
    let prefix = redis_support::unique_prefix("rate");
    let config = std::env::temp_dir().join(format!("{prefix}.toml"));
    // So slow that nothing refills during the test: only the burst.
    let toml = format!(
        "[auth]\nanonymous = \"off\"\n\n[[tenants]]\nid = \"acme\"\n\
         api_keys = [{{ id = \"agent\", sha256 = \"{sha256}\" }}]\n\
         rate = {{ per_second = 0.0001, burst = {BURST} }}\n"
    );
    std::fs::write(&config, toml).expect("write the config");
    let url = redis.url();
    let env = redis_env(&url, &prefix);
    let nodes: Vec<Node> = (0..3).map(|_| Node::spawn(Some(&config), &env)).collect();
    let _ = std::fs::remove_file(&config);

    let mut client = McpClient::with_token(&nodes[0].url, &key);
    client.initialize(json!({})).await; // not rate limited
    let (mut ok, mut limited) = (0, 0);
    for i in 0..(4 * BURST) {
        client.url = nodes[i % 3].url.clone();
        let body = json!({"jsonrpc": "2.0", "id": client.id(), "method": "tools/call",
                          "params": {"name": "echo", "arguments": {"message": "hi"}}});
        let resp = client
            .post()
            .body(body.to_string())
            .send()
            .await
            .expect("post");
        match resp.status().as_u16() {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, BURST, "the tenant's burst once, not once per node");
    assert_eq!(limited, 3 * BURST);

    // With Redis gone the limiter cannot answer: 503, not a hang. A
    // stateless call needs no session store, so the 503 is the limiter's.
    redis.kill();
    let stateless = ModernClient::with_token(&nodes[1].url, &key);
    let params = json!({"name": "echo", "arguments": {"message": "hi"}});
    match stateless.request(1, "tools/call", params).await {
        Reply::Other(status, body) => {
            assert_eq!(status.as_u16(), 503);
            assert!(body.contains("rate limiter unavailable"), "{body}");
        }
        _ => panic!("a rate-limited call was served without the limiter"),
    }
}

#[tokio::test]
async fn the_admin_stats_count_every_node_s_sessions_and_list_only_their_own() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("admin");
    let (token, digest) = switchboard_auth::new_api_key();
    let url = redis.url();
    let mut env = redis_env(&url, &prefix).to_vec();
    env.push(("SWITCHBOARD_ADMIN__LISTEN", "127.0.0.1:0"));
    env.push(("SWITCHBOARD_ADMIN__TOKEN_SHA256", &digest));
    let (a, b) = (Node::spawn(None, &env), Node::spawn(None, &env));
    let mut client = McpClient::new(&a.url);
    client.initialize(json!({})).await;
    let admin = |node: &Node, path: &str| {
        let url = format!("{}/admin/v1{path}", node.admin.clone().expect("admin"));
        let token = token.clone();
        async move {
            let resp = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("admin");
            assert_eq!(resp.status(), 200);
            resp.json::<serde_json::Value>().await.expect("json")
        }
    };
    for node in [&a, &b] {
        let stats = admin(node, "/stats").await;
        assert_eq!(stats["cluster"]["sessions"], 1, "{stats}");
        assert_eq!(admin(node, "/node").await["store"], "redis");
    }
    assert_eq!(admin(&a, "/sessions").await["total"], 1);
    assert_eq!(admin(&b, "/sessions").await["total"], 0, "not live on b");
    // Ended from node b: the record goes at once; node a frees its live
    // part when the client's next request finds no record.
    let id = client.session.clone().unwrap();
    let ended = reqwest::Client::new()
        .delete(format!(
            "{}/admin/v1/sessions/{id}",
            b.admin.clone().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 200);
    match client.request(7, "tools/list", json!({})).await {
        Reply::Other(status, _) => assert_eq!(status.as_u16(), 404),
        _ => panic!("an ended session is still served"),
    }
    assert_eq!(admin(&a, "/sessions").await["total"], 0, "a let it go");
    assert_eq!(admin(&a, "/stats").await["cluster"]["sessions"], 0);
}

/// Redis's own counters over a connection of the test's (kept open: Redis
/// counts a read for each command and for the close): the
/// `total_reads_processed` of `INFO stats` (one per batch of commands read
/// off a socket) and each command's calls from `INFO commandstats`, as
/// `cmd_<name>`.
struct RedisCounters(BufReader<TcpStream>);

impl RedisCounters {
    fn connect(port: u16) -> Self {
        Self(BufReader::new(
            TcpStream::connect(("127.0.0.1", port)).expect("connect to redis-server"),
        ))
    }

    fn read(&mut self) -> HashMap<String, u64> {
        self.0
            .get_mut()
            .write_all(b"INFO stats commandstats\r\n")
            .expect("send INFO");
        let mut header = String::new();
        self.0.read_line(&mut header).expect("INFO reply");
        let len: usize = header
            .trim()
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a bulk reply: {header:?}"));
        let mut body = vec![0; len + 2];
        self.0.read_exact(&mut body).expect("INFO body");
        let mut out = HashMap::new();
        for line in String::from_utf8_lossy(&body).lines() {
            if let Some(n) = line.strip_prefix("total_reads_processed:") {
                out.insert("reads".to_owned(), n.trim().parse().expect("a count"));
            } else if let Some((cmd, rest)) = line
                .strip_prefix("cmdstat_")
                .and_then(|l| l.split_once(":calls="))
            {
                let calls = rest.split(',').next().and_then(|n| n.parse().ok());
                out.insert(format!("cmd_{cmd}"), calls.expect("a count"));
            }
        }
        out
    }
}

#[tokio::test]
async fn a_legacy_tool_call_is_one_redis_round_trip_refresh_included() {
    let redis = RedisProcess::start();
    let server = node(&redis.url(), &redis_support::unique_prefix("cost"));
    let mut client = McpClient::new(&server.url);
    client.initialize(json!({})).await;
    let mut counters = RedisCounters::connect(redis.port);
    let before = counters.read();
    // Calls back to back (no `last seen` refresh due), then calls each over
    // a second after the last (a refresh due on every one).
    const QUICK: u64 = 8;
    const SPACED: u64 = 4;
    let call = |client: &McpClient| {
        let body = json!({"jsonrpc": "2.0", "id": client.id(), "method": "tools/call",
                          "params": {"name": "echo", "arguments": {"message": "hi"}}});
        let sent = client.post().body(body.to_string()).send();
        async move { assert_eq!(sent.await.expect("tools/call").status(), 200) }
    };
    for _ in 0..QUICK {
        call(&client).await;
    }
    for _ in 0..SPACED {
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        call(&client).await;
    }
    let after = counters.read();
    let delta = |k: &str| after.get(k).unwrap_or(&0) - before.get(k).unwrap_or(&0);
    let calls = QUICK + SPACED;
    assert_eq!(delta("cmd_get"), calls, "one record load per call");
    assert!(
        delta("cmd_zadd") >= SPACED,
        "the spaced calls refreshed `last seen`: {after:?}"
    );
    // Everything else Redis ran meanwhile is the node's background work
    // (the reaper's sweep, the sessions gauge): at most one read each.
    let background: u64 = after
        .keys()
        .filter(|k| k.starts_with("cmd_"))
        .filter(|k| !["cmd_get", "cmd_zadd", "cmd_zscore", "cmd_info"].contains(&k.as_str()))
        .map(|k| delta(k))
        .sum();
    // The test's own second INFO is one read.
    let reads = delta("reads") - 1;
    assert!(
        reads <= calls + background,
        "{reads} Redis reads for {calls} calls and {background} background commands: \
         more than one round trip per call"
    );
}
