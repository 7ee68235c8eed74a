//! Three `switchboard serve` nodes on one Redis, and a session-era client
//! that sends every request to the next node in turn (no stickiness):
//! progress, an elicitation answered at another node than the one whose
//! handler waits, a GET stream on one node hearing events produced on
//! another, and a cancellation posted to another node than the running call.
//! The same scenario runs on a single Redis and on a 3-master Redis Cluster.

use crate::redis_support;
use crate::support;

use std::time::Duration;

use redis_support::{RedisCluster, RedisProcess};
use serde_json::{Value, json};
use support::Node;
use switchboard_testkit::{McpClient, Reply, SseReader};

/// A generous bound on waiting for one event: never reached when it works.
const PATIENCE: Duration = Duration::from_secs(30);

/// A client whose every request goes to the next node.
struct RoundRobin {
    client: McpClient,
    urls: Vec<String>,
    turn: usize,
}

impl RoundRobin {
    /// The client, aimed at the next node.
    fn next(&mut self) -> &McpClient {
        self.client.url = self.urls[self.turn % self.urls.len()].clone();
        self.turn += 1;
        &self.client
    }
}

async fn sse(reply: Reply) -> SseReader {
    match reply {
        Reply::Sse(r) => r,
        Reply::Json(v) => panic!("expected a stream, got {v}"),
        Reply::Other(s, b) => panic!("HTTP {s}: {b}"),
    }
}

/// The next message (an event with data) of a stream; `None` at its end.
async fn message(r: &mut SseReader) -> Option<Value> {
    loop {
        let ev = r
            .next_within(PATIENCE)
            .await
            .expect("an event within the patience bound")?;
        if let Some(v) = ev.json() {
            return Some(v);
        }
    }
}

#[tokio::test]
async fn a_client_without_stickiness_is_served_by_three_nodes() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("cluster");
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::on_redis(None, &redis.url(), &prefix))
        .collect();
    scenario(&nodes).await;
}

#[tokio::test]
async fn the_same_on_a_redis_cluster_of_three_masters() {
    let cluster = RedisCluster::start();
    let prefix = redis_support::unique_prefix("rcluster");
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::on_redis_cluster(None, &cluster.url(), &prefix))
        .collect();
    scenario(&nodes).await;
    // The state is on the cluster (the store tests check that it spreads).
    let keys: u64 = cluster.keys_per_master().iter().sum();
    assert!(keys > 0, "no key on the cluster");
}

/// Initialize, list, progress, an elicitation, a GET stream, a cancel, a
/// resumption and the DELETE, each request at the next of `nodes`.
async fn scenario(nodes: &[Node]) {
    let mut rr = RoundRobin {
        client: McpClient::new(&nodes[0].url),
        urls: nodes.iter().map(|n| n.url.clone()).collect(),
        turn: 1,
    };
    rr.client.initialize(json!({"elicitation": {}})).await;

    let (listed, _) = rr.next().call("tools/list", json!({})).await;
    assert!(listed["result"]["tools"].is_array(), "{listed}");

    let (done, before) = rr
        .next()
        .call(
            "tools/call",
            json!({"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "p"}}),
        )
        .await;
    let progress = before
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .count();
    assert_eq!(progress, 3, "{before:?}");
    assert!(done["result"]["content"].is_array(), "{done}");

    elicitation_answered_elsewhere(&mut rr).await;
    let mut standalone = events_reach_a_get_stream_on_another_node(&mut rr).await;
    cancel_posted_elsewhere(&mut rr).await;
    resumed_at_another_node(&mut rr).await;

    // Ended at another node than the one holding the GET stream: it ends.
    assert!(rr.next().delete().await.is_success());
    assert!(
        message(&mut standalone).await.is_none(),
        "the GET stream outlived its session"
    );
}

/// The handler waits on one node; the answer is posted to the next.
async fn elicitation_answered_elsewhere(rr: &mut RoundRobin) {
    let params = json!({"name": "test_elicitation", "arguments": {"message": "who?"}});
    let mut stream = sse(rr.next().request(900, "tools/call", params).await).await;
    let asked = message(&mut stream).await.expect("the elicitation request");
    assert_eq!(asked["method"], "elicitation/create", "{asked}");
    let answer = json!({"jsonrpc": "2.0", "id": asked["id"], "result": {
        "action": "accept", "content": {"username": "ada", "email": "ada@example.com"}}});
    let status = rr.next().post().body(answer.to_string()).send().await;
    assert_eq!(status.expect("answer").status().as_u16(), 202);
    let done = message(&mut stream).await.expect("the tool's response");
    assert_eq!(done["id"], 900, "{done}");
    let text = done["result"]["content"][0]["text"].as_str().unwrap_or("");
    assert!(
        text.contains("action=accept") && text.contains("ada@example.com"),
        "{done}"
    );
}

/// A GET stream attached on one node hears a resource update and a list
/// change produced by calls on the two others.
async fn events_reach_a_get_stream_on_another_node(rr: &mut RoundRobin) -> SseReader {
    let uri = "test://watched-resource";
    let (sub, _) = rr
        .next()
        .call("resources/subscribe", json!({"uri": uri}))
        .await;
    assert!(sub.get("result").is_some(), "{sub}");
    let get = rr.next().get().send().await.expect("GET");
    assert_eq!(get.status().as_u16(), 200);
    let mut standalone = SseReader::new(get);
    rr.next()
        .call_tool("update_watched_resource", json!({}))
        .await;
    rr.next()
        .call_tool("test_trigger_tool_change", json!({}))
        .await;
    // Two nodes published them: their order on the bus is not promised.
    let mut heard = Vec::new();
    for _ in 0..2 {
        let m = message(&mut standalone).await.expect("an event");
        if m["method"] == "notifications/resources/updated" {
            assert_eq!(m["params"]["uri"], uri, "{m}");
        }
        heard.push(m["method"].as_str().unwrap_or_default().to_owned());
    }
    heard.sort();
    assert_eq!(
        heard,
        [
            "notifications/resources/updated",
            "notifications/tools/list_changed"
        ]
    );
    standalone
}

/// A call streams on one node; the client drops the stream after the first
/// event and resumes it at another node, which follows the handler live:
/// every later event and the response arrive, each once, in order.
async fn resumed_at_another_node(rr: &mut RoundRobin) {
    let params = json!({"name": "sleep", "arguments": {"ms": 6000}, "_meta": {"progressToken": 2}});
    let mut stream = sse(rr.next().request(902, "tools/call", params).await).await;
    let last_id = loop {
        let ev = stream
            .next_within(PATIENCE)
            .await
            .expect("an event within the patience bound")
            .expect("a first progress");
        if ev.json().is_some() {
            break ev.id.expect("an event id");
        }
    };
    drop(stream);
    let resp = rr
        .next()
        .get()
        .header("last-event-id", &last_id)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status().as_u16(), 200);
    let mut resumed = SseReader::new(resp);
    let mut progress = vec![10.0];
    let mut answered = false;
    while let Some(m) = message(&mut resumed).await {
        if m["method"] == "notifications/progress" {
            progress.push(m["params"]["progress"].as_f64().unwrap_or(-1.0));
        } else {
            assert_eq!(m["id"], 902, "{m}");
            answered = true;
        }
    }
    assert!(answered, "the resumed stream ended without the response");
    let expected: Vec<f64> = (1..=10).map(|i| f64::from(i) * 10.0).collect();
    assert_eq!(progress, expected, "every progress once, in order");
}

/// A long call runs on one node; `notifications/cancelled` goes to another
/// and ends it: its stream closes without a response, well before its end.
async fn cancel_posted_elsewhere(rr: &mut RoundRobin) {
    let params =
        json!({"name": "sleep", "arguments": {"ms": 20000}, "_meta": {"progressToken": 1}});
    let mut stream = sse(rr.next().request(901, "tools/call", params).await).await;
    let first = message(&mut stream).await.expect("a first progress");
    assert_eq!(first["method"], "notifications/progress", "{first}");
    let status = rr
        .next()
        .notify(
            "notifications/cancelled",
            json!({"requestId": 901, "reason": "changed my mind"}),
        )
        .await;
    assert_eq!(status.as_u16(), 202);
    let mut progress = 1;
    while let Some(m) = message(&mut stream).await {
        assert!(m.get("id").is_none(), "the cancelled call answered: {m}");
        progress += 1;
    }
    assert!(
        progress < 10,
        "the call ran to its end ({progress} progress)"
    );
}

/// A session's end that never reached a node on the bus (published while
/// Redis was away, say): the node finds it gone from the store at its next
/// sweep and closes what it holds — here a GET stream, which ends.
#[tokio::test]
async fn a_node_closes_a_session_whose_end_it_missed() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("missed");
    let (a, b) = (
        Node::on_redis(None, &redis.url(), &prefix),
        Node::on_redis(None, &redis.url(), &prefix),
    );
    let mut client = McpClient::new(&a.url);
    client.initialize(json!({})).await;
    let id = client.session.clone().expect("a session id");
    client.url = b.url.clone();
    let get = client.get().send().await.expect("GET");
    assert_eq!(get.status().as_u16(), 200);
    let mut stream = SseReader::new(get);
    // Ended behind the nodes' backs: the record and its index entries go,
    // and no `ended` message is published.
    let mut raw = redis.raw().await;
    let () = redis::pipe()
        .cmd("DEL")
        .arg(format!("{prefix}:s:{{{id}}}"))
        .ignore()
        .cmd("ZREM")
        .arg(format!("{prefix}:{{idx}}:seen"))
        .arg(&id)
        .ignore()
        .query_async(&mut raw)
        .await
        .expect("removed");
    // Keep-alives would keep `message` waiting: the whole wait is bounded.
    let ended = tokio::time::timeout(PATIENCE, message(&mut stream)).await;
    assert!(
        matches!(ended, Ok(None)),
        "the GET stream outlived its session: {ended:?}"
    );
}

/// A 2024-11-05 HTTP+SSE session lives only while its stream to its node
/// is open, and its node renews it at each sweep. When that node is killed,
/// another node's sweep ends the session once the renewals have stopped
/// for the tether grace (30 s here), instead of the record holding its
/// tenant's session quota until it idles out (30 minutes); one still open
/// on a live node stays.
#[tokio::test]
async fn an_http_sse_session_of_a_killed_node_is_ended_by_another() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("tether");
    let (a, b) = (
        Node::on_redis(None, &redis.url(), &prefix),
        Node::on_redis(None, &redis.url(), &prefix),
    );
    let base = |n: &Node| n.url.trim_end_matches("/mcp").to_owned();
    let mut dying = switchboard_testkit::LegacyClient::open(&base(&a), "/sse", None).await;
    let mut living = switchboard_testkit::LegacyClient::open(&base(&b), "/sse", None).await;
    dying.initialize().await;
    living.initialize().await;
    let id_of = |c: &switchboard_testkit::LegacyClient| {
        c.endpoint
            .split_once("sessionId=")
            .expect("a session id")
            .1
            .to_owned()
    };
    let (dead_id, live_id) = (id_of(&dying), id_of(&living));
    let raw = redis.raw().await;
    let tethered = format!("{prefix}:{{idx}}:tethered");
    let held = |id: String| {
        let (mut raw, seen) = (raw.clone(), format!("{prefix}:{{idx}}:seen"));
        async move {
            let score: Option<f64> = redis::cmd("ZSCORE")
                .arg(seen)
                .arg(id)
                .query_async(&mut raw)
                .await
                .expect("ZSCORE");
            score.is_some()
        }
    };
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(&tethered)
        .arg(0)
        .arg(-1)
        .query_async(&mut raw.clone())
        .await
        .expect("ZRANGE");
    assert_eq!(members.len(), 2, "both sessions are tethered: {members:?}");
    drop(a);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while held(dead_id.clone()).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the killed node's session was never ended"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(held(live_id).await, "the live node's session was ended");
    let status = living
        .post(json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}))
        .await;
    assert_eq!(status, 202, "the live session still takes messages");
}
