//! `switchboard serve` with an upstream that cannot start beside one that
//! can: the server starts, serves the working one's tools, and answers a
//! call of the broken one with an error naming it.

use serde_json::json;
use switchboard_testkit::McpClient;

use crate::support;
use support::Node;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_upstream_does_not_keep_the_others_from_being_served() {
    let dir = std::env::temp_dir().join(format!("sb-gw-start-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("switchboard.toml");
    std::fs::write(
        &config,
        "[[upstreams]]\nname = \"broken\"\ncommand = \"/nonexistent/mcp-server\"\n\n\
         [[upstreams]]\nname = \"builtin\"\nkind = \"builtin\"\nprefix = \"\"\n",
    )
    .unwrap();
    let node = Node::spawn(Some(&config), &[]);
    let url = node.url.clone();

    let mut c = McpClient::new(&url);
    c.initialize(json!({})).await;
    let (list, _) = c.call("tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().expect("tools");
    assert!(tools.iter().any(|t| t["name"] == "echo"), "{list}");
    let (r, _) = c
        .call(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "still here"}}),
        )
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "still here", "{r}");
    let (r, _) = c
        .call(
            "tools/call",
            json!({"name": "broken__anything", "arguments": {}}),
        )
        .await;
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("broken"), "{r}");

    drop(node);
    std::fs::remove_dir_all(&dir).ok();
}
