//! Stateless requests of one client land on two separate server processes
//! that share a sealing key — including the retries of an `input_required`
//! exchange — and a process with another key refuses the state.

use serde_json::{Value, json};
use switchboard_testkit::{ModernClient, Reply};

use crate::support;
use support::Node;

fn start(sealing_key: &str) -> Node {
    Node::spawn(None, &[("SWITCHBOARD_SEALING_KEY", sealing_key)])
}

fn client(node: &Node) -> ModernClient {
    let mut c = ModernClient::new(&node.url);
    c.capabilities = json!({"elicitation": {}});
    c
}

const KEY: &str = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";

fn answer(key: &str, field: &str, value: &str) -> Value {
    json!({key: {"action": "accept", "content": {field: value}}})
}

async fn call(c: &ModernClient, params: Value) -> Value {
    let (v, _) = c.call("tools/call", params).await;
    v["result"].clone()
}

#[tokio::test]
async fn input_required_rounds_cross_nodes_sharing_a_key() {
    let (a, b) = (start(KEY), start(KEY));
    let tool = "test_input_required_result_multi_round";
    let r1 = call(&client(&a), json!({"name": tool, "arguments": {}})).await;
    assert_eq!(r1["resultType"], "input_required");
    let r2 = call(
        &client(&b),
        json!({"name": tool, "arguments": {}, "inputResponses": answer("step1", "name", "Ada"), "requestState": r1["requestState"]}),
    )
    .await;
    assert_eq!(
        r2["resultType"], "input_required",
        "node B resumed node A's state: {r2}"
    );
    let r3 = call(
        &client(&a),
        json!({"name": tool, "arguments": {}, "inputResponses": answer("step2", "color", "teal"), "requestState": r2["requestState"]}),
    )
    .await;
    assert_eq!(r3["resultType"], "complete");
    assert_eq!(r3["content"][0]["text"], "Ada likes teal.");

    // Plain stateless calls are served by either node alike.
    for node in [&a, &b] {
        let r = call(
            &client(node),
            json!({"name": "echo", "arguments": {"message": "any node"}}),
        )
        .await;
        assert_eq!(r["content"][0]["text"], "any node");
    }

    // A node with another key cannot open the state.
    let other = start(&"ab".repeat(32));
    let reply = client(&other)
        .request(
            5,
            "tools/call",
            json!({"name": tool, "arguments": {}, "inputResponses": answer("step2", "color", "teal"), "requestState": r2["requestState"]}),
        )
        .await;
    let Reply::Other(status, body) = reply else {
        panic!("a refusal")
    };
    assert_eq!(status, 400);
    assert!(body.contains("-32602"), "{body}");
}
