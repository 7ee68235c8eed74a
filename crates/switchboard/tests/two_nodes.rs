//! Stateless requests of one client land on two separate server processes
//! that share a sealing key — including the retries of an `input_required`
//! exchange — and a process with another key refuses the state.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use switchboard_testkit::{ModernClient, Reply};

/// A `switchboard serve` child process on an ephemeral port; killed on drop.
struct Node {
    child: Child,
    url: String,
}

impl Node {
    fn start(sealing_key: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("SWITCHBOARD_SEALING_KEY", sealing_key)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn switchboard");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("banner");
        // Keep draining stdout so the child never writes to a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in banner {first:?}"))
            .to_owned();
        Self { child, url }
    }

    fn client(&self) -> ModernClient {
        let mut c = ModernClient::new(&self.url);
        c.capabilities = json!({"elicitation": {}});
        c
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let (a, b) = (Node::start(KEY), Node::start(KEY));
    let tool = "test_input_required_result_multi_round";
    let r1 = call(&a.client(), json!({"name": tool, "arguments": {}})).await;
    assert_eq!(r1["resultType"], "input_required");
    let r2 = call(
        &b.client(),
        json!({"name": tool, "arguments": {}, "inputResponses": answer("step1", "name", "Ada"), "requestState": r1["requestState"]}),
    )
    .await;
    assert_eq!(
        r2["resultType"], "input_required",
        "node B resumed node A's state: {r2}"
    );
    let r3 = call(
        &a.client(),
        json!({"name": tool, "arguments": {}, "inputResponses": answer("step2", "color", "teal"), "requestState": r2["requestState"]}),
    )
    .await;
    assert_eq!(r3["resultType"], "complete");
    assert_eq!(r3["content"][0]["text"], "Ada likes teal.");

    // Plain stateless calls are served by either node alike.
    for node in [&a, &b] {
        let r = call(
            &node.client(),
            json!({"name": "echo", "arguments": {"message": "any node"}}),
        )
        .await;
        assert_eq!(r["content"][0]["text"], "any node");
    }

    // A node with another key cannot open the state.
    let other = Node::start(&"ab".repeat(32));
    let reply = other
        .client()
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
