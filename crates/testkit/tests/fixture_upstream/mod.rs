//! The upstream crate's Python fixture server as a gateway upstream, and
//! how its tool results read — shared by the gateway test files.
// Each test file uses a subset.
#![allow(dead_code)]

use serde_json::{Value, json};
use switchboard_testkit::McpClient;
use switchboard_upstream::gateway::UpstreamConfig;

/// The fixture server (`fixture_server.py`; its tools are listed there).
pub const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../upstream/tests/fixtures/fixture_server.py"
);

/// An upstream `name` running the fixture, calls timing out after 10 s.
pub fn fixture(name: &str) -> UpstreamConfig {
    UpstreamConfig {
        name: name.into(),
        command: "python3".into(),
        args: vec![SCRIPT.into()],
        call_timeout_secs: 10,
        ..UpstreamConfig::default()
    }
}

/// Call `tool`; the whole response message.
pub async fn call(c: &McpClient, tool: &str, args: Value) -> Value {
    c.call("tools/call", json!({"name": tool, "arguments": args}))
        .await
        .0
}

/// The `value` a fixture tool returned.
pub fn value(resp: &Value) -> Value {
    resp["result"]["structuredContent"]["value"].clone()
}
