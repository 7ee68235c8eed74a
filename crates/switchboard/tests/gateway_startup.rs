//! `switchboard serve` with an upstream that cannot start beside one that
//! can: the server starts, serves the working one's tools, and answers a
//! call of the broken one with an error naming it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;
use switchboard_testkit::McpClient;

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn switchboard");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("the server did not start: {banner:?}"))
        .to_owned();

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

    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
