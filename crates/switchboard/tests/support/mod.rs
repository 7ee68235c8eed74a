//! A `switchboard serve` child process for the binary's tests.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use parking_lot::Mutex;

/// The sealing key every node of a test cluster shares, so a request
/// state sealed by one node opens on another.
#[allow(dead_code)] // the cluster tests only
pub const SEALING_KEY: &str = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";

/// `switchboard serve` on an ephemeral loopback port; killed on drop.
pub struct Node {
    pub child: Child,
    pub url: String,
    /// The admin listener's base URL (`http://addr`), if it runs.
    #[allow(dead_code)] // read by the admin CLI tests only
    pub admin: Option<String>,
    /// What it has logged so far (stderr; `RUST_LOG` is `warn` unless `env`
    /// sets it).
    log: Arc<Mutex<String>>,
}

impl Node {
    /// A node of a test cluster (with `config`, if any): the Redis store at
    /// `redis_url`, keys under `prefix`, and [`SEALING_KEY`].
    #[allow(dead_code)] // the cluster tests only
    pub fn on_redis(config: Option<&Path>, redis_url: &str, prefix: &str) -> Self {
        Self::spawn(
            config,
            &[
                ("SWITCHBOARD_STORE", "redis"),
                ("SWITCHBOARD_REDIS_URL", redis_url),
                ("SWITCHBOARD_REDIS_PREFIX", prefix),
                ("SWITCHBOARD_SEALING_KEY", SEALING_KEY),
            ],
        )
    }

    /// A node of a test cluster on a Redis Cluster: like [`Node::on_redis`]
    /// with `redis_cluster = true` and the seed URLs `seeds`
    /// (comma-separated).
    #[allow(dead_code)] // the cluster tests only
    pub fn on_redis_cluster(config: Option<&Path>, seeds: &str, prefix: &str) -> Self {
        Self::spawn(
            config,
            &[
                ("SWITCHBOARD_STORE", "redis"),
                ("SWITCHBOARD_REDIS_CLUSTER", "true"),
                ("SWITCHBOARD_REDIS_URL", seeds),
                ("SWITCHBOARD_REDIS_PREFIX", prefix),
                ("SWITCHBOARD_SEALING_KEY", SEALING_KEY),
            ],
        )
    }

    /// Start it with `config` (if any) and these environment variables, and
    /// wait for its banner, which names the URL.
    pub fn spawn(config: Option<&Path>, env: &[(&str, &str)]) -> Self {
        Self::spawn_on("127.0.0.1:0", config, env)
    }

    /// Like [`Node::spawn`], listening on `listen` (an address the
    /// configuration names, e.g. in a callback URL).
    pub fn spawn_on(listen: &str, config: Option<&Path>, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args(["serve", "--listen", listen]);
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn switchboard");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let mut log = sink.lock();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = String::new();
        stdout.read_line(&mut banner).expect("banner");
        // Keep draining stdout so the child never writes to a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = banner
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("the server did not start: {banner:?}"))
            .to_owned();
        let admin = banner
            .split_once("admin API at ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .map(|u| u.trim_end_matches("/admin/v1").to_owned());
        Self {
            child,
            url,
            admin,
            log,
        }
    }

    /// What it has logged so far.
    #[allow(dead_code)] // each test file uses a subset
    pub fn logged(&self) -> String {
        self.log.lock().clone()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `test_tool_with_progress` call streamed as SSE: its logged events
/// (priming excluded) — three progress notifications and the response.
#[allow(dead_code)] // the store tests only
pub async fn progress_call(
    client: &switchboard_testkit::McpClient,
) -> Vec<switchboard_testkit::SseEvent> {
    let params = serde_json::json!({"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "t"}});
    let switchboard_testkit::Reply::Sse(stream) = client.request(5, "tools/call", params).await
    else {
        panic!("expected an SSE reply")
    };
    let logged: Vec<_> = stream
        .collect()
        .await
        .into_iter()
        .filter(|e| !e.data.is_empty())
        .collect();
    assert_eq!(
        logged.len(),
        4,
        "three progress notifications and the response: {logged:?}"
    );
    logged
}

/// A directory of this test process under the temporary directory,
/// `sb-<name>-<pid>`, created.
#[allow(dead_code)] // each test file uses a subset
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}
