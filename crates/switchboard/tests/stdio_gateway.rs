//! `switchboard stdio --config FILE` as a desktop client's one local
//! gateway: the file's `[[upstreams]]` — the fixture server as a stdio
//! upstream (real child processes) and a Switchboard over HTTP — served to
//! the one client on stdin/stdout with their prefixes; progress, the
//! upstream's requests (elicitation, a bare `roots/list`) relayed to the
//! client, cancellation, the upstream's list change, a crashed upstream
//! process restarted, a reload on SIGHUP announced with `list_changed`; a
//! stateless (2026-07-28) request
//! too; and at end of input every upstream process ends and the front
//! exits 0. A key for the HTTP server gives one warning line.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_testkit::TestServer;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../upstream/tests/fixtures/fixture_server.py"
);
/// Longest wait for one line before the test gives up (a hang guard, not
/// a timing assertion).
const PATIENCE: Duration = Duration::from_secs(60);

/// A fresh directory of this test's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-stdio-gw-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fixture upstream entry (`extra` lines added).
fn fixture(name: &str, extra: &str) -> String {
    format!(
        "[[upstreams]]\nname = \"{name}\"\ncommand = \"python3\"\nargs = [\"{SCRIPT}\"]\ncall_timeout_secs = 30\n{extra}\n"
    )
}

/// `switchboard stdio --config`, its stdout as JSON messages.
struct Front {
    child: Child,
    stdin: Option<ChildStdin>,
    out: mpsc::UnboundedReceiver<Value>,
    /// Messages read while waiting for others.
    seen: Vec<Value>,
    next_id: u64,
}

impl Front {
    fn spawn(config: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args(["stdio", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, out) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout holds only JSON-RPC: {e}: {line}"));
                let _ = tx.send(v);
            }
        });
        let stdin = child.stdin.take();
        Self {
            child,
            stdin,
            out,
            seen: Vec::new(),
            next_id: 100,
        }
    }

    async fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// The next message `pred` accepts (earlier ones kept in `seen`).
    async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = tokio::time::timeout(PATIENCE, self.out.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} on stdout; saw {:?}", self.seen))
                .unwrap_or_else(|| panic!("stdout closed before {what}; saw {:?}", self.seen));
            if pred(&v) {
                return v;
            }
            self.seen.push(v);
        }
    }

    /// Send a request; its id.
    async fn request(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        id
    }

    async fn response(&mut self, id: u64) -> Value {
        self.wait_for(&format!("the response to {id}"), |v| {
            v["id"] == id && v.get("method").is_none()
        })
        .await
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.request(method, params).await;
        self.response(id).await
    }

    async fn tool(&mut self, name: &str, arguments: Value) -> Value {
        self.call("tools/call", json!({"name": name, "arguments": arguments}))
            .await
    }

    /// Answer a request the front sent the client.
    async fn answer(&mut self, request: &Value, result: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": request["id"], "result": result}))
            .await;
    }
}

/// The value a fixture tool returned.
fn value(response: &Value) -> Value {
    response["result"]["structuredContent"]["value"].clone()
}

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
        let after = stat.rsplit(')').next().unwrap_or_default();
        let ppid = after.split_whitespace().nth(1).and_then(|p| p.parse().ok());
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

fn tool_names(response: &Value) -> Vec<String> {
    response["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("tools/list: {response}"))
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_through_the_stdio_gateway() {
    let web = TestServer::start().await;
    let dir = scratch("main");
    let config = dir.join("gateway.toml");
    let base = format!(
        "listen = \"127.0.0.1:1\"\nconfig_watch = false\n\n{}\n[[upstreams]]\nname = \"web\"\nkind = \"http\"\nurl = \"{}\"\n",
        fixture("up", ""),
        web.url()
    );
    std::fs::write(&config, &base).unwrap();
    let mut front = Front::spawn(&config);

    let init = front
        .call(
            "initialize",
            json!({"protocolVersion": "2025-11-25",
                "capabilities": {"elicitation": {}, "roots": {}},
                "clientInfo": {"name": "desktop", "version": "1"}}),
        )
        .await;
    assert!(init["result"]["protocolVersion"].is_string(), "{init}");
    front
        .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    let r = front
        .call("logging/setLevel", json!({"level": "info"}))
        .await;
    assert!(r["result"].is_object(), "{r}");

    // Both upstreams' tools, under their prefixes; no built-in tool alone.
    let names = tool_names(&front.call("tools/list", json!({})).await);
    for want in ["up__echo", "up__slow", "web__echo"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert!(!names.iter().any(|n| n == "echo"), "{names:?}");
    let r = front
        .tool("web__echo", json!({"message": "via http"}))
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "via http", "{r}");

    // Progress with the client's own token.
    let id = front
        .request(
            "tools/call",
            json!({"name": "up__slow", "arguments": {"ms": 60, "steps": 3},
                "_meta": {"progressToken": "tok-1"}}),
        )
        .await;
    let r = front.response(id).await;
    assert!(
        value(&r)["token"].is_string(),
        "the upstream got a token: {r}"
    );
    let progress: Vec<&Value> = front
        .seen
        .iter()
        .filter(|v| v["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3, "{:?}", front.seen);
    assert!(
        progress
            .iter()
            .all(|p| p["params"]["progressToken"] == "tok-1")
    );

    // The upstream's elicitation goes to the client and back.
    let id = front
        .request(
            "tools/call",
            json!({"name": "up__ask", "arguments": {"question": "name?"}}),
        )
        .await;
    let asked = front
        .wait_for("elicitation/create", |v| {
            v["method"] == "elicitation/create"
        })
        .await;
    assert_eq!(asked["params"]["message"], "name?", "{asked}");
    front
        .answer(
            &asked,
            json!({"action": "accept", "content": {"name": "Ada"}}),
        )
        .await;
    let r = front.response(id).await;
    assert_eq!(value(&r)["content"]["name"], "Ada", "{r}");

    // A roots/list without params reaches the client without params.
    let id = front
        .request("tools/call", json!({"name": "up__roots", "arguments": {}}))
        .await;
    let asked = front
        .wait_for("roots/list", |v| v["method"] == "roots/list")
        .await;
    assert!(asked.get("params").is_none(), "{asked}");
    let roots = json!({"roots": [{"uri": "file:///home", "name": "home"}]});
    front.answer(&asked, roots.clone()).await;
    assert_eq!(value(&front.response(id).await), roots);

    // Cancellation reaches the upstream; the cancelled call is never
    // answered.
    let hung = front
        .request("tools/call", json!({"name": "up__hang", "arguments": {}}))
        .await;
    front
        .wait_for("the hang log line", |v| {
            v["method"] == "notifications/message"
                && v["params"]["data"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("hanging"))
        })
        .await;
    front
        .send(
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": hung, "reason": "user"}}),
        )
        .await;
    let mut cancelled = Value::Null;
    for _ in 0..100 {
        cancelled = value(&front.tool("up__cancelled", json!({})).await);
        if cancelled["cancelled"] == cancelled["hung"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cancelled["cancelled"], cancelled["hung"], "{cancelled}");
    assert_eq!(
        cancelled["hung"].as_array().map(Vec::len),
        Some(1),
        "{cancelled}"
    );

    // A stateless request over stdio: the upstream's mid-call roots/list
    // becomes an input request, without params.
    let r = front
        .call(
            "tools/call",
            json!({"name": "up__roots", "arguments": {}, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {"roots": {}}}}),
        )
        .await;
    assert_eq!(r["result"]["resultType"], "input_required", "{r}");
    assert_eq!(
        r["result"]["inputRequests"],
        json!({"upstream-0": {"method": "roots/list"}}),
        "{r}"
    );

    // The upstream's own list change reaches the client (before or after
    // the call's answer).
    let r = front.tool("up__changed", json!({})).await;
    assert_eq!(value(&r), "sent", "{r}");
    let changed = |v: &Value| v["method"] == "notifications/tools/list_changed";
    if !front.seen.iter().any(changed) {
        front
            .wait_for("the upstream's tools/list_changed", changed)
            .await;
    }
    front.seen.clear();

    // A crashed upstream process: the call fails, the session goes on, and
    // the next call gets a fresh process.
    let first = value(&front.tool("up__pid", json!({})).await);
    let r = front.tool("up__crash", json!({})).await;
    assert!(
        r.get("error").is_some() || r["result"]["isError"] == true,
        "{r}"
    );
    let second = value(&front.tool("up__pid", json!({})).await);
    assert!(second.is_u64() && second != first, "{first} then {second}");

    // SIGHUP reloads: a new upstream, announced to the client.
    std::fs::write(&config, format!("{base}\n{}", fixture("more", ""))).unwrap();
    let pid = front.child.id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    front
        .wait_for("tools/list_changed", |v| {
            v["method"] == "notifications/tools/list_changed"
        })
        .await;
    let names = tool_names(&front.call("tools/list", json!({})).await);
    assert!(names.iter().any(|n| n == "more__echo"), "{names:?}");
    let r = front.tool("more__count", json!({})).await;
    assert_eq!(value(&r), 1, "{r}");

    // End of input: every upstream process ends, and the front exits 0.
    let upstreams = children_of(pid);
    assert!(upstreams.len() >= 2, "upstream processes: {upstreams:?}");
    front.stdin = None;
    let status = tokio::time::timeout(PATIENCE, front.child.wait())
        .await
        .expect("the front exits at end of input")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut left = upstreams.clone();
    for _ in 0..100 {
        left.retain(|p| running(*p));
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(left.is_empty(), "upstream processes left: {left:?}");

    // One warning line, naming the one HTTP-server key set.
    let mut stderr = String::new();
    front
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ignored here"))
        .collect();
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(warned[0].contains("listen"), "{stderr}");
    assert!(!warned[0].contains("upstreams"), "{stderr}");
    web.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_tool_name_collision_stops_the_start() {
    let dir = scratch("collision");
    let config = dir.join("gateway.toml");
    let both = format!(
        "{}{}",
        fixture("a", "prefix = \"\""),
        fixture("b", "prefix = \"\"")
    );
    std::fs::write(&config, both).unwrap();
    let out = tokio::time::timeout(
        PATIENCE,
        Command::new(BIN)
            .args(["stdio", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("it stops")
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tool name collision"), "{stderr}");
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn help_says_what_the_config_file_does() {
    let out = std::process::Command::new(BIN)
        .args(["stdio", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for said in ["[[upstreams]]", "stdin closes", "SIGHUP", "listen"] {
        assert!(help.contains(said), "{said:?} in {help}");
    }
}
