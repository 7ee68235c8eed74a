//! `switchboard serve` reloading its configuration: an edited file is
//! applied, an invalid one is refused with a log line while the old
//! configuration keeps serving, and with `config_watch = false` SIGHUP is
//! what applies a change. Waits are bounded polls, never sleeps that decide.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use switchboard_testkit::McpClient;

use crate::support;
use support::Node;

/// A file with anonymous access off and these tenants (id, key digest).
fn config_text(tenants: &[(&str, &str)], extra: &str) -> String {
    let mut text = format!("{extra}\n[auth]\nanonymous = \"off\"\n");
    for (id, sha) in tenants {
        text.push_str(&format!(
            "\n[[tenants]]\nid = \"{id}\"\napi_keys = [{{ id = \"agent\", sha256 = \"{sha}\" }}]\n"
        ));
    }
    text
}

/// Replace `path` at once (a rename), as editors and config managers do.
fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// The status of an `initialize` with `key`.
async fn status(url: &str, key: &str) -> u16 {
    let c = McpClient::with_token(url, key);
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    c.post()
        .body(body.to_string())
        .send()
        .await
        .expect("post")
        .status()
        .as_u16()
}

/// Poll until `key` gets `want` (at most 30 s).
async fn until_status(url: &str, key: &str, want: u16) -> bool {
    for _ in 0..300 {
        if status(url, key).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Poll until the node has logged `text` `n` times (at most 30 s).
async fn until_logged(node: &Node, text: &str, n: usize) -> bool {
    for _ in 0..300 {
        if node.logged().matches(text).count() >= n {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_file_is_applied_an_invalid_one_refused_and_sighup_reloads() {
    let dir = std::env::temp_dir().join(format!("sb-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("switchboard.toml");
    let (a_key, a_sha) = switchboard_auth::new_api_key();
    let (b_key, b_sha) = switchboard_auth::new_api_key();
    let (c_key, c_sha) = switchboard_auth::new_api_key();
    write(&path, &config_text(&[("a", &a_sha)], ""));
    let node = Node::spawn(Some(&path), &[("RUST_LOG", "info")]);
    let url = node.url.clone();
    let mut session = McpClient::with_token(&url, &a_key);
    session.initialize(json!({})).await;
    assert_eq!(status(&url, &b_key).await, 401);

    // An edit adds tenant b.
    write(&path, &config_text(&[("a", &a_sha), ("b", &b_sha)], ""));
    assert!(
        until_status(&url, &b_key, 200).await,
        "b is let in after the edit"
    );

    // An invalid file: refused with a log line naming the key; a and b go on.
    write(
        &path,
        &config_text(&[("a", &a_sha), ("b", &b_sha)], "max_sessions = 0"),
    );
    assert!(
        until_logged(&node, "reload refused", 1).await,
        "{}",
        node.logged()
    );
    let log = node.logged();
    let refused = log
        .lines()
        .find(|l| l.contains("reload refused"))
        .expect("the line");
    assert!(refused.contains("max_sessions"), "{refused}");
    assert!(
        !log.contains(&a_sha) && !log.contains(&a_key),
        "no secret logged"
    );
    assert_eq!(status(&url, &a_key).await, 200);
    assert_eq!(status(&url, &b_key).await, 200);
    let (r, _) = session.call("ping", json!({})).await;
    assert!(r.get("result").is_some(), "the session goes on: {r}");

    // Turn the watch off (this change is itself applied by the watch)...
    write(
        &path,
        &config_text(&[("a", &a_sha), ("b", &b_sha)], "config_watch = false"),
    );
    assert!(
        until_logged(&node, "applied: config_watch", 1).await,
        "{}",
        node.logged()
    );
    // ...so adding c waits for SIGHUP.
    write(
        &path,
        &config_text(
            &[("a", &a_sha), ("b", &b_sha), ("c", &c_sha)],
            "config_watch = false",
        ),
    );
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &node.child.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    assert!(
        until_status(&url, &c_key, 200).await,
        "c is let in after SIGHUP"
    );
    // Log lines reach stderr through a buffered writer: wait for it.
    assert!(
        until_logged(&node, "SIGHUP: reloading", 1).await,
        "{}",
        node.logged()
    );
    assert_eq!(status(&url, &a_key).await, 200);

    drop(node);
    std::fs::remove_dir_all(&dir).ok();
}
