//! `switchboard serve` raises its soft open-file limit to the hard one and
//! says so, and derives its connection caps from the raised limit (issue
//! 16, defect 8).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::resource::{Resource, getrlimit};
use serde_json::Value;

/// The first JSON log line whose message contains `needle`.
fn find(lines: &mpsc::Receiver<String>, needle: &str) -> Value {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no log line with {needle:?} within 30 s"));
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if v["message"].as_str().is_some_and(|m| m.contains(needle)) {
            return v;
        }
    }
}

#[test]
fn serve_raises_the_open_file_limit_and_caps_connections_below_it() {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    let soft = hard / 2;
    let mut child = Command::new("bash")
        .args([
            "-c",
            &format!("ulimit -Sn {soft} && exec \"$0\" serve --listen 127.0.0.1:0"),
            env!("CARGO_BIN_EXE_switchboard"),
        ])
        .env("RUST_LOG", "info")
        .env("SWITCHBOARD_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn switchboard");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let raised = find(&lines, "raised the open-file limit");
    let caps = find(&lines, "connection caps");
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(raised["from"], soft, "{raised}");
    assert_eq!(raised["to"], hard, "{raised}");
    assert_eq!(caps["open_file_limit"], hard, "{caps}");
    let total = caps["max_connections"].as_u64().expect("a number");
    assert!(
        total < hard && total >= hard / 2,
        "below the limit, with a reserve: {caps}"
    );
    assert_eq!(caps["max_connections_per_address"], total / 2, "{caps}");
}
