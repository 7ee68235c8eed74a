//! Failures of a three-node cluster on one Redis: every node and a Redis
//! with an append-only file killed and restarted (every session works, its
//! logged events replay); a node killed with SIGKILL under a GET stream (the
//! client resumes on another node and gets every event once and in order,
//! those produced while no node held the stream included); a node drained
//! with SIGTERM under a GET stream (the stream ends with a resume hint, the
//! client resumes elsewhere, nothing lost or repeated) and during a call
//! (the call completes, new sessions go to the other nodes). Waits are
//! bounded, never timed assertions.

use crate::redis_support;
use crate::support;

use std::time::Duration;

use redis_support::RedisProcess;
use serde_json::{Value, json};
use support::Node;
use switchboard_testkit::{McpClient, Reply, SseReader};

/// A generous bound on waiting for one event: never reached when it works.
const PATIENCE: Duration = Duration::from_secs(30);
const WATCHED: &str = "test://watched-resource";

fn node(redis_url: &str, prefix: &str) -> Node {
    Node::on_redis(None, redis_url, prefix)
}

fn nodes(redis: &RedisProcess, prefix: &str) -> Vec<Node> {
    (0..3).map(|_| node(&redis.url(), prefix)).collect()
}

/// `c` aimed at `node`.
fn at<'a>(c: &'a mut McpClient, node: &Node) -> &'a McpClient {
    c.url = node.url.clone();
    c
}

async fn sse(reply: Reply) -> SseReader {
    match reply {
        Reply::Sse(r) => r,
        Reply::Json(v) => panic!("expected a stream, got {v}"),
        Reply::Other(s, b) => panic!("HTTP {s}: {b}"),
    }
}

/// The next message of a stream with its event id; `None` at its end.
/// Keep-alive comments do not extend the patience bound.
async fn message(r: &mut SseReader) -> Option<(Option<String>, Value)> {
    let next = async {
        loop {
            let ev = r
                .next_within(PATIENCE)
                .await
                .expect("an event within the patience bound")?;
            if let Some(v) = ev.json() {
                return Some((ev.id, v));
            }
        }
    };
    tokio::time::timeout(PATIENCE, next)
        .await
        .expect("a message within the patience bound")
}

/// The sequence number of a standalone-stream event id (`<stream>-<seq>`).
fn seq(id: &Option<String>) -> u64 {
    let id = id.as_deref().expect("an event id");
    let (_, seq) = id.split_once('-').expect("<stream>-<seq>");
    seq.parse().expect("a number")
}

/// Open the session's GET stream with `last` as `Last-Event-ID`, if any.
async fn get_stream(c: &McpClient, last: Option<&str>) -> SseReader {
    let mut get = c.get();
    if let Some(last) = last {
        get = get.header("last-event-id", last);
    }
    let resp = get.send().await.expect("GET");
    assert_eq!(resp.status().as_u16(), 200);
    SseReader::new(resp)
}

/// An initialized session subscribed to the watched resource.
async fn subscribed(node: &Node) -> McpClient {
    let mut c = McpClient::new(&node.url);
    c.initialize(json!({})).await;
    let (sub, _) = c.call("resources/subscribe", json!({"uri": WATCHED})).await;
    assert!(sub.get("result").is_some(), "{sub}");
    c
}

/// One resource update produced by a call at `node`.
async fn update_at(c: &mut McpClient, node: &Node) {
    update(at(c, node)).await;
}

/// One resource update produced by a call where `c` is aimed.
async fn update(c: &McpClient) {
    let r = c.call_tool("update_watched_resource", json!({})).await;
    assert!(r.get("content").is_some(), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_survives_all_nodes_and_a_persistent_redis_restarting() {
    let dir = std::env::temp_dir().join(format!("sb-aof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut redis = RedisProcess::start_persistent(&dir, None).expect("redis-server");
    let prefix = redis_support::unique_prefix("aof");
    let first = nodes(&redis, &prefix);

    // Three sessions, one per node, each with two events on its GET stream.
    let mut sessions = Vec::new();
    for i in 0..3 {
        let mut c = subscribed(&first[i]).await;
        let mut get = get_stream(&c, None).await;
        update_at(&mut c, &first[(i + 1) % 3]).await;
        update_at(&mut c, &first[(i + 2) % 3]).await;
        let (id1, _) = message(&mut get).await.expect("a first event");
        let (id2, m2) = message(&mut get).await.expect("a second event");
        assert_eq!(m2["method"], "notifications/resources/updated", "{m2}");
        sessions.push((c, id1.expect("an event id"), id2, m2));
    }

    drop(first); // SIGKILL, every node
    redis.kill();
    let mut redis = RedisProcess::start_persistent(&dir, Some(redis.port)).expect("restarted");
    let second = nodes(&redis, &prefix);

    for (i, (c, id1, id2, m2)) in sessions.iter_mut().enumerate() {
        let (listed, _) = at(c, &second[(i + 1) % 3])
            .call("tools/list", json!({}))
            .await;
        assert!(
            listed["result"]["tools"].is_array(),
            "session {i}: {listed}"
        );
        let mut replay = get_stream(at(c, &second[(i + 2) % 3]), Some(id1)).await;
        let (id, m) = message(&mut replay).await.expect("the logged event");
        assert_eq!(id, *id2, "session {i}: the event after {id1}");
        assert_eq!(m, *m2, "session {i}: the event after {id1}");
    }
    drop(second);
    redis.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_stream_resumes_on_another_node_after_sigkill() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("kill");
    let mut nodes = nodes(&redis, &prefix);
    let mut c = subscribed(&nodes[1]).await;
    let mut get = get_stream(at(&mut c, &nodes[0]), None).await;

    // Six updates made on B and C reach the stream on A.
    let mut heard = Vec::new();
    for i in 0..6 {
        update_at(&mut c, &nodes[1 + i % 2]).await;
        heard.push(message(&mut get).await.expect("an update"));
    }
    let seqs: Vec<u64> = heard.iter().map(|(id, _)| seq(id)).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    // The client had handled only the first three when A died.
    let last = heard[2].0.clone().expect("an event id");
    nodes[0].child.kill().expect("SIGKILL");
    nodes[0].child.wait().expect("reaped");
    drop(get);

    // While no node holds the stream, three more updates, on B and C.
    for i in 0..3 {
        update_at(&mut c, &nodes[1 + i % 2]).await;
    }
    let mut resumed = get_stream(at(&mut c, &nodes[2]), Some(&last)).await;
    for i in 0..3 {
        update_at(&mut c, &nodes[1 + i % 2]).await;
    }
    let mut got = Vec::new();
    for _ in 0..9 {
        let (id, m) = message(&mut resumed).await.expect("an event");
        assert_eq!(m["method"], "notifications/resources/updated", "{m}");
        got.push(seq(&id));
    }
    let want: Vec<u64> = (1..=9).map(|k| seqs[2] + k).collect();
    assert_eq!(
        got, want,
        "three unread, three from the gap, three live: each once, in order"
    );
    // Nothing more was queued: the next event is the next update.
    update_at(&mut c, &nodes[1]).await;
    let (id, _) = message(&mut resumed).await.expect("one more");
    assert_eq!(seq(&id), seqs[2] + 10);
}

/// The events of a stream until it ends: each message's sequence number,
/// and the hint it ended with (an event without data: id, retry).
async fn until_end(r: &mut SseReader) -> (Vec<u64>, Option<(String, u64)>) {
    let mut seqs = Vec::new();
    let mut hint = None;
    loop {
        let ev = r
            .next_within(PATIENCE)
            .await
            .expect("an event within the patience bound");
        let Some(ev) = ev else {
            return (seqs, hint);
        };
        if let Some(m) = ev.json() {
            assert_eq!(m["method"], "notifications/resources/updated", "{m}");
            seqs.push(seq(&ev.id));
        } else if let (Some(id), Some(retry)) = (ev.id, ev.retry) {
            hint = Some((id, retry));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_stream_drained_with_sigterm_resumes_on_another_node() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("drain-get");
    let mut nodes = nodes(&redis, &prefix);
    let mut c = subscribed(&nodes[1]).await;
    let mut get = get_stream(at(&mut c, &nodes[0]), None).await;
    let priming = get.next_within(PATIENCE).await.expect("in time");
    let priming = priming.expect("a priming event");
    assert_eq!(priming.id.as_deref(), Some("0-0"), "{priming:?}");

    // Updates keep coming from B while A is drained.
    const TOTAL: usize = 12;
    let mut producer = McpClient::new(&nodes[1].url);
    producer.session = c.session.clone();
    let mut heard = Vec::new();
    for _ in 0..3 {
        update_at(&mut producer, &nodes[1]).await;
        heard.push(seq(&message(&mut get).await.expect("an update").0));
    }
    let produce = tokio::spawn(async move {
        for _ in 3..TOTAL {
            update(&producer).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let pid = nodes[0].child.id().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(term.success());

    // A ends the stream with the id to resume from and a retry hint.
    let (more, hint) = until_end(&mut get).await;
    heard.extend(more);
    let (last, retry) = hint.expect("the stream ends with a resume hint");
    assert!(retry > 0, "{retry}");
    assert_eq!(seq(&Some(last.clone())), *heard.last().expect("heard"));

    // The client resumes at C and hears every update once, in order.
    let mut resumed = get_stream(at(&mut c, &nodes[2]), Some(&last)).await;
    while heard.len() < TOTAL {
        let (id, _) = message(&mut resumed).await.expect("an update");
        heard.push(seq(&id));
    }
    produce.await.expect("the producer");
    let want: Vec<u64> = (1..=TOTAL as u64).collect();
    assert_eq!(heard, want, "each update once, in order");
    let exited = nodes[0].child.wait().expect("wait");
    assert!(exited.success(), "{exited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_drained_with_sigterm_finishes_its_call() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("drain");
    let mut nodes = nodes(&redis, &prefix);
    let mut c = McpClient::new(&nodes[1].url);
    c.initialize(json!({})).await;
    let params = json!({"name": "sleep", "arguments": {"ms": 3000}, "_meta": {"progressToken": 1}});
    let mut call = sse(at(&mut c, &nodes[0]).request(7, "tools/call", params).await).await;
    let (_, first) = message(&mut call).await.expect("a first progress");
    assert_eq!(first["method"], "notifications/progress", "{first}");

    let pid = nodes[0].child.id().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(term.success());

    // A takes no new connection; the others take new sessions.
    let (probe, health) = (c.http.clone(), nodes[0].url.replace("/mcp", "/healthz"));
    let mut refused = false;
    for _ in 0..300 {
        if probe.get(&health).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the drained node still accepts connections");
    McpClient::new(&nodes[2].url).initialize(json!({})).await;

    // The call in flight runs to its result.
    let mut progress = 1;
    let mut result = None;
    while let Some((_, m)) = message(&mut call).await {
        if m["method"] == "notifications/progress" {
            progress += 1;
        } else {
            result = Some(m);
        }
    }
    let result = result.expect("the call's response after SIGTERM");
    assert_eq!(result["id"], 7, "{result}");
    assert!(result["result"]["content"].is_array(), "{result}");
    assert_eq!(progress, 10, "every progress");

    // And then the node exits, cleanly.
    let mut exited = None;
    for _ in 0..300 {
        if let Some(status) = nodes[0].child.try_wait().expect("wait") {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(exited.is_some_and(|s| s.success()), "{exited:?}");
}

/// A call streams on one node, which is killed with SIGKILL; the client
/// resumes the call's stream at another node. The dead node never ends the
/// stream: once `request_timeout_secs` (and a grace) has passed, the
/// follower answers the request with an error saying so and ends it,
/// instead of holding the client on keep-alives; a later resumption gets
/// the same answer from the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_writer_was_killed_ends_after_the_request_timeout() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("writer");
    let url = redis.url();
    let env = [
        ("SWITCHBOARD_STORE", "redis"),
        ("SWITCHBOARD_REDIS_URL", url.as_str()),
        ("SWITCHBOARD_REDIS_PREFIX", prefix.as_str()),
        ("SWITCHBOARD_SEALING_KEY", support::SEALING_KEY),
        ("SWITCHBOARD_REQUEST_TIMEOUT_SECS", "2"),
    ];
    let mut nodes: Vec<Node> = (0..2).map(|_| Node::spawn(None, &env)).collect();
    let mut c = McpClient::new(&nodes[1].url);
    c.initialize(json!({})).await;
    let params = json!({"name": "sleep", "arguments": {"ms": 1500}, "_meta": {"progressToken": 1}});
    let mut call = sse(at(&mut c, &nodes[0]).request(7, "tools/call", params).await).await;
    let (id, first) = message(&mut call).await.expect("a first progress");
    assert_eq!(first["method"], "notifications/progress", "{first}");
    nodes[0].child.kill().expect("SIGKILL");
    drop(call);

    let id = id.expect("an event id");
    let mut resumed = get_stream(at(&mut c, &nodes[1]), Some(&id)).await;
    let mut answers = Vec::new();
    while let Some((event, m)) = message(&mut resumed).await {
        if m.get("id").is_some() {
            answers.push((event, m));
        }
    }
    assert_eq!(answers.len(), 1, "one answer: {answers:?}");
    let (event, answer) = answers.pop().expect("the answer");
    assert_eq!(answer["id"], 7, "{answer}");
    assert_eq!(answer["error"]["code"], -32603, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("stopped before it answered")),
        "{answer}"
    );
    // Logged: a client that missed it resumes and gets it.
    let mut again = get_stream(at(&mut c, &nodes[1]), Some(&id)).await;
    let mut replayed = None;
    while let Some((e, m)) = message(&mut again).await {
        if m.get("id").is_some() {
            replayed = Some((e, m));
        }
    }
    assert_eq!(replayed, Some((event, answer)));
}
