//! `switchboard serve` with a stdio upstream, killed with SIGKILL: none of
//! its upstream processes outlives it (they run under `setpriv
//! --pdeathsig KILL`, and in process groups of their own).

use std::time::Duration;

use serde_json::json;
use switchboard_testkit::McpClient;

use crate::support;
use support::Node;

/// Pids whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let after = stat.rsplit(')').next().unwrap_or_default();
        let ppid = after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}

/// Whether `pid` still runs (a zombie does not count).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s.rsplit(')').next().unwrap_or_default().trim_start();
        !state.starts_with('Z')
    })
}

#[tokio::test]
async fn no_upstream_process_outlives_a_killed_switchboard() {
    assert!(
        on_path("setpriv"),
        "setpriv is not installed, and this test is about the upstreams it runs under \
         `--pdeathsig KILL`: install the Debian package util-linux"
    );
    let dir = std::env::temp_dir().join(format!("sb-gw-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../upstream/tests/fixtures/fixture_server.py"
    );
    let config = dir.join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[[upstreams]]\nname = \"up\"\ncommand = \"python3\"\nargs = [\"{script}\", \"--linger\"]\n"
        ),
    )
    .unwrap();
    let mut node = Node::spawn(Some(&config), &[]);
    let url = node.url.clone();

    // Two sessions, so two upstream processes besides the warm one.
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let mut c = McpClient::new(&url);
        c.initialize(json!({})).await;
        let (r, _) = c
            .call("tools/call", json!({"name": "up__count", "arguments": {}}))
            .await;
        assert_eq!(r["result"]["structuredContent"]["value"], 1, "{r}");
        sessions.push(c);
    }
    let upstreams = children_of(node.child.id());
    assert!(upstreams.len() >= 2, "upstream processes: {upstreams:?}");

    node.child.kill().unwrap(); // SIGKILL: no clean-up code of ours runs
    node.child.wait().unwrap();
    let mut left = upstreams.clone();
    for _ in 0..100 {
        left.retain(|p| running(*p));
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        left.is_empty(),
        "upstream processes outlived switchboard: {left:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Whether `binary` is a file in a directory of the PATH.
fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(binary).is_file()))
}
