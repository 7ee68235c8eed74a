//! `switchboard serve` with `store = "file"`: a node killed (SIGKILL) or
//! stopped (SIGTERM) and started again on the same file still serves its
//! sessions — their capabilities and log level hold, and a GET with
//! `Last-Event-ID` replays what was logged before the restart. A bad path or
//! a file another node holds stops the start.

use crate::support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use support::{Node, progress_call};
use switchboard_testkit::{McpClient, Reply, SseReader};

/// A fresh database path in the temporary directory, removed on drop.
struct DbFile(PathBuf);

impl DbFile {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "switchboard-file-store-{}-{name}.redb",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }

    fn node(&self) -> Node {
        let path = self.0.to_str().expect("UTF-8 path");
        Node::spawn(
            None,
            &[
                ("SWITCHBOARD_STORE", "file"),
                ("SWITCHBOARD_STORE_PATH", path),
            ],
        )
    }
}

impl Drop for DbFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// How the first process ends.
#[derive(Clone, Copy)]
enum Stop {
    Kill,
    Term,
}

fn stop(mut node: Node, how: Stop) {
    match how {
        Stop::Kill => node.child.kill().expect("SIGKILL"),
        Stop::Term => {
            let status = Command::new("kill")
                .args(["-TERM", &node.child.id().to_string()])
                .status()
                .expect("kill -TERM");
            assert!(status.success());
        }
    }
    let exit = node.child.wait().expect("wait");
    if let Stop::Term = how {
        assert!(exit.success(), "a clean stop on SIGTERM: {exit:?}");
    }
}

/// The sampling request a tool sends proves the session's capabilities came
/// back from the file, and the stream opening without a priming event (new
/// in 2025-11-25) that its 2025-06-18 did; answered so the call completes.
async fn sampling_still_allowed(client: &McpClient) {
    let params = json!({"name": "test_sampling", "arguments": {"prompt": "again?"}});
    let Reply::Sse(mut s) = client.request(6, "tools/call", params).await else {
        panic!("expected an SSE reply")
    };
    let first = s.next().await.expect("request");
    assert!(
        !first.data.is_empty(),
        "a priming event: the session forgot it speaks 2025-06-18"
    );
    let req = first.json().expect("JSON");
    assert_eq!(req["method"], "sampling/createMessage", "{req}");
    let answer = json!({"jsonrpc": "2.0", "id": req["id"], "result": {
        "role": "assistant", "content": {"type": "text", "text": "yes"}, "model": "m", "stopReason": "endTurn"}});
    let status = client
        .post()
        .body(answer.to_string())
        .send()
        .await
        .expect("answer");
    assert_eq!(status.status(), 202);
    let resp = s.next().await.expect("response").json().expect("JSON");
    assert_eq!(
        resp["result"]["content"][0]["text"], "LLM response: yes",
        "{resp}"
    );
}

async fn survives(how: Stop, name: &str) {
    let db = DbFile::new(name);
    let first = db.node();
    let mut client = McpClient::new(&first.url);
    // An older version than the default, to see the negotiated one hold.
    client.version = "2025-06-18".into();
    client.initialize(json!({"sampling": {}})).await;
    assert_eq!(client.version, "2025-06-18");
    let (r, _) = client
        .call("logging/setLevel", json!({"level": "error"}))
        .await;
    assert_eq!(r["result"], json!({}));
    let logged = progress_call(&client).await;
    let first_id = logged[0].id.clone().expect("event id");
    stop(first, how);

    let second = db.node();
    client.url = second.url.clone();
    let echoed = client
        .call_tool("echo", json!({"message": "still here"}))
        .await;
    assert!(echoed.to_string().contains("still here"), "{echoed}");
    sampling_still_allowed(&client).await;
    assert!(
        matches!(
            client
                .request(7, "tools/call", json!({"name": "test_tool_with_logging"}))
                .await,
            Reply::Json(_)
        ),
        "level error still set: no log messages, a plain JSON reply"
    );
    let resp = client
        .get()
        .header("last-event-id", &first_id)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 200);
    let replayed = SseReader::new(resp).collect().await;
    let ids: Vec<_> = replayed.iter().map(|e| e.id.clone()).collect();
    let expected: Vec<_> = logged[1..].iter().map(|e| e.id.clone()).collect();
    assert_eq!(
        ids, expected,
        "the rest of the stream from before the restart"
    );
    assert_eq!(replayed[2].json().expect("JSON")["id"], json!(5));

    // A session that never set a level gets the log messages: the check
    // above is about the stored level, not a default.
    let mut fresh = McpClient::new(&second.url);
    fresh.initialize(json!({})).await;
    assert!(matches!(
        fresh
            .request(8, "tools/call", json!({"name": "test_tool_with_logging"}))
            .await,
        Reply::Sse(_)
    ));
    assert!(client.delete().await.is_success());
}

#[tokio::test]
async fn sessions_survive_a_killed_node() {
    survives(Stop::Kill, "kill").await;
}

#[tokio::test]
async fn sessions_survive_a_stopped_node() {
    survives(Stop::Term, "term").await;
}

#[tokio::test]
async fn a_file_in_a_missing_directory_stops_the_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .envs([
            ("SWITCHBOARD_STORE", "file"),
            (
                "SWITCHBOARD_STORE_PATH",
                "/nonexistent-switchboard-dir/s.redb",
            ),
        ])
        .output()
        .expect("run switchboard");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("store_path") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_second_node_on_the_same_file_is_refused() {
    let db = DbFile::new("twice");
    let _first = db.node();
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .envs([
            ("SWITCHBOARD_STORE", "file"),
            ("SWITCHBOARD_STORE_PATH", db.0.to_str().expect("UTF-8 path")),
        ])
        .output()
        .expect("run switchboard");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open"), "{stderr}");
}
