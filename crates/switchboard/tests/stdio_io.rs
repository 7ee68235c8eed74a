//! `switchboard stdio` on every kind of stdin/stdout it may be given: pipes
//! (read and written without blocking threads), a regular file, and a
//! stdout that is also stderr — each answers the same requests.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// An `initialize`, `notifications/initialized` and one `echo` call.
fn requests() -> String {
    let lines = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "over stdio"}}}),
    ];
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The JSON lines of `output` with an `id` (log lines are not JSON-RPC).
fn answers(output: &str) -> Vec<Value> {
    output
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("jsonrpc").is_some() && v.get("id").is_some())
        .collect()
}

/// Both requests answered, the echo with its message.
fn check(output: &str) {
    let answers = answers(output);
    assert_eq!(answers.len(), 2, "{output}");
    assert_eq!(answers[0]["id"], 1, "{output}");
    assert!(
        answers[0]["result"]["protocolVersion"].is_string(),
        "{output}"
    );
    assert_eq!(answers[1]["id"], 2, "{output}");
    let text = &answers[1]["result"]["content"][0]["text"];
    assert!(
        text.as_str().is_some_and(|t| t.contains("over stdio")),
        "{output}"
    );
}

/// A fresh file path of this test process's own.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-stdio-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn command() -> Command {
    let mut c = Command::new(BIN);
    c.arg("stdio").env("RUST_LOG", "warn");
    c
}

#[test]
fn pipes_both_ways() {
    let mut child = command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(requests().as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    check(&String::from_utf8_lossy(&out.stdout));
}

#[test]
fn a_file_on_stdin_and_a_pipe_on_stdout() {
    let path = scratch("in.jsonl");
    std::fs::write(&path, requests()).unwrap();
    let out = command()
        .stdin(std::fs::File::open(&path).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    check(&String::from_utf8_lossy(&out.stdout));
}

#[test]
fn a_pipe_on_stdin_and_a_file_on_stdout() {
    let path = scratch("out.jsonl");
    let mut child = command()
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(requests().as_bytes()).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    check(&std::fs::read_to_string(&path).unwrap());
}

/// stdout and stderr the same pipe (`2>&1`): stdout is left blocking, as
/// the log lines written to stderr expect, and both arrive.
#[test]
fn stdout_and_stderr_one_pipe() {
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = command()
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(requests().as_bytes()).unwrap();
    drop(stdin);
    let read = std::thread::spawn(move || std::io::read_to_string(reader).unwrap());
    assert!(child.wait().unwrap().success());
    check(&read.join().unwrap());
}
