//! Durable tasks on a two-node cluster with one Redis: a task started on
//! node A is visible from node B (and to nobody else); after A is killed
//! with SIGKILL, B's orphan sweep sees A's lease run out (with nobody
//! polling), takes the task over, runs the tool again from the recorded
//! request and serves its result. Waits are
//! bounded polls, never timed assertions.

use crate::redis_support;
use crate::support;

use std::time::Duration;

use redis_support::RedisProcess;
use serde_json::{Value, json};
use support::Node;
use switchboard_testkit::{ModernClient, Reply};

const EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// Tenants `a` and `b`, one key each; a short task lease so the takeover
/// comes soon after the kill.
fn config(a: &str, b: &str) -> String {
    format!(
        "task_lease_secs = 2\n[auth]\nanonymous = \"off\"\n\
         [[tenants]]\nid = \"a\"\napi_keys = [{{ id = \"one\", sha256 = \"{a}\" }}]\n\
         [[tenants]]\nid = \"b\"\napi_keys = [{{ id = \"one\", sha256 = \"{b}\" }}]\n"
    )
}

fn client(node: &Node, key: &str) -> ModernClient {
    let mut c = ModernClient::with_token(&node.url, key);
    c.capabilities = json!({"extensions": {EXTENSION: {}}});
    c
}

/// A request's result, or its JSON-RPC error.
async fn send(c: &ModernClient, method: &str, params: Value) -> Result<Value, Value> {
    let v = match c.request(1, method, params).await {
        Reply::Json(v) => v,
        Reply::Other(_, body) => serde_json::from_str(&body).expect("JSON error body"),
        Reply::Sse(_) => panic!("{method}: unexpected stream"),
    };
    match v.get("result") {
        Some(r) => Ok(r.clone()),
        None => Err(v["error"].clone()),
    }
}

async fn get(c: &ModernClient, id: &str) -> Result<Value, Value> {
    send(c, "tasks/get", json!({"taskId": id})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_survives_the_death_of_its_node() {
    let redis = RedisProcess::start();
    let dir = std::env::temp_dir().join(format!("sb-tasks-failover-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("switchboard.toml");
    let (a, a_sha) = switchboard_auth::new_api_key();
    let (b, b_sha) = switchboard_auth::new_api_key();
    std::fs::write(&path, config(&a_sha, &b_sha)).expect("config");
    let prefix = redis_support::unique_prefix("tasks");
    let mut node_a = Node::on_redis(Some(&path), &redis.url(), &prefix);
    let node_b = Node::on_redis(Some(&path), &redis.url(), &prefix);
    let (on_a, on_b, other) = (
        client(&node_a, &a),
        client(&node_b, &a),
        client(&node_b, &b),
    );

    let args = json!({"seconds": 3, "label": "failover"});
    let created = send(
        &on_a,
        "tools/call",
        json!({"name": "slow_compute", "arguments": args}),
    )
    .await
    .expect("a task");
    assert_eq!(created["resultType"], "task", "{created}");
    let id = created["taskId"].as_str().expect("taskId").to_owned();

    // Node B serves it from the store; tenant b does not see it.
    assert_eq!(
        get(&on_b, &id).await.expect("visible on B")["status"],
        "working"
    );
    let unknown = get(&other, "no-such-task").await.expect_err("unknown");
    assert_eq!(unknown["code"], -32602);
    assert_eq!(get(&other, &id).await.expect_err("not tenant b's"), unknown);
    let key = format!("{prefix}:task:{{{id}}}");
    let mut raw = redis.raw().await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .expect("PTTL");
    assert!(ttl > 0, "the task's key {key} expires (PTTL {ttl})");

    node_a.child.kill().expect("SIGKILL node A");
    node_a.child.wait().expect("reaped");

    // Nobody asks about the task: B's orphan sweep finds A's lapsed lease,
    // takes the task over and completes it (watched in Redis, not polled).
    let mut record = Value::Null;
    for _ in 0..600 {
        let json: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg("r")
            .query_async(&mut raw)
            .await
            .expect("HGET");
        record = serde_json::from_str(&json.expect("the task's record")).expect("record JSON");
        if record["status"] != "working" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        record["status"],
        "completed",
        "{record}\n{}",
        node_b.logged()
    );
    assert_eq!(record["runs"], 2, "run on A, then again on B: {record}");
    let last = get(&on_b, &id).await.expect("tasks/get on B");
    assert_eq!(last["status"], "completed", "{last}\n{}", node_b.logged());
    assert_eq!(
        last["result"]["content"][0]["text"],
        "failover: done after 3 s"
    );
    assert!(last["result"]["isError"] != json!(true), "{last}");
    assert_eq!(
        get(&other, &id).await.expect_err("still not tenant b's"),
        unknown
    );

    // Cancelling from any node: B cancels a task B runs; a cancelled task
    // stays cancelled.
    let args = json!({"seconds": 60, "label": "cancel-me"});
    let created = send(
        &on_b,
        "tools/call",
        json!({"name": "slow_compute", "arguments": args}),
    )
    .await
    .expect("a task");
    let id = created["taskId"].as_str().expect("taskId").to_owned();
    assert!(
        send(&other, "tasks/cancel", json!({"taskId": id}))
            .await
            .is_err()
    );
    assert_eq!(get(&on_b, &id).await.unwrap()["status"], "working");
    let ack = send(&on_b, "tasks/cancel", json!({"taskId": id}))
        .await
        .expect("cancel");
    assert_eq!(ack["resultType"], "complete");
    assert_eq!(get(&on_b, &id).await.unwrap()["status"], "cancelled");
    let _ = std::fs::remove_dir_all(&dir);
}
