//! A real `redis-server` on a free loopback port, killed on drop.
//!
//! Without `redis-server` (or, for a Redis Cluster, `redis-cli`) on the PATH
//! a test fails: it never passes without having run against a real Redis.
//! `scripts/tools.sh` installs them; a developer who cannot install them runs
//! `SB_TEST_SKIP=redis scripts/test.sh`, which leaves these test
//! binaries out and counts them as skipped (see the README).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use switchboard_store_redis::{Redis, RedisOptions};

/// A running `redis-server`.
#[derive(Debug)]
pub struct RedisProcess {
    child: Child,
    pub port: u16,
}

impl RedisProcess {
    /// Start one on a free port; panics (the test fails) if `redis-server`
    /// is not installed or does not start.
    pub fn start() -> Self {
        (0..5)
            .find_map(|_| Self::start_on(free_port()))
            .expect("redis-server did not start on a free port in 5 tries")
    }

    /// Start one on `port` (e.g. again after [`RedisProcess::kill`]);
    /// `None` if it exits or does not answer PING.
    pub fn start_on(port: u16) -> Option<Self> {
        Self::start_with(port, &["--save", "", "--appendonly", "no"])
    }

    /// Start one on `port` (a free one if `None`) that keeps its data in an
    /// append-only file in `dir`: started again on the same `dir`, it holds
    /// what it held when killed.
    pub fn start_persistent(dir: &std::path::Path, port: Option<u16>) -> Option<Self> {
        let dir = dir.to_str().expect("a UTF-8 path");
        let args = ["--save", "", "--appendonly", "yes", "--dir", dir];
        match port {
            Some(port) => Self::start_with(port, &args),
            None => (0..5).find_map(|_| Self::start_with(free_port(), &args)),
        }
    }

    /// Start one with `args`; panics if `redis-server` is not installed,
    /// `None` if it exits or does not answer PING.
    fn start_with(port: u16, args: &[&str]) -> Option<Self> {
        require("redis-server");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let mut p = Self { child, port };
        for _ in 0..200 {
            if ping(port) {
                return Some(p);
            }
            if p.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A plain connection to it: for a test that reads or changes keys
    /// behind the store's back.
    pub async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("raw connection")
    }

    /// Kill it now (SIGKILL) and wait for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three `redis-server` masters of one Redis Cluster on free ports (all
/// 16384 slots assigned), with or without a replica each, their cluster
/// files in a temporary directory; killed and removed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    /// Every node, masters and replicas (`redis-cli` chooses which is which).
    pub nodes: Vec<RedisProcess>,
    replicas: usize,
    dir: std::path::PathBuf,
}

impl RedisCluster {
    /// Three masters and no replica: see [`RedisCluster::start_with`].
    pub fn start() -> Self {
        Self::start_with(0)
    }

    /// Start three masters and `replicas` replicas of each, create the
    /// cluster with `redis-cli --cluster create` and wait until every node
    /// says `cluster_state:ok`; panics (the test fails) if `redis-server` or
    /// `redis-cli` is not installed.
    pub fn start_with(replicas: usize) -> Self {
        require("redis-server");
        require("redis-cli");
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sb-redis-cluster-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut cluster = Self {
            nodes: Vec::new(),
            replicas,
            dir,
        };
        for _ in 0..3 * (1 + replicas) {
            let node = (0..5)
                .find_map(|_| cluster.start_node())
                .expect("a cluster redis-server on a free port in 5 tries");
            cluster.nodes.push(node);
        }
        cluster.create();
        cluster
    }

    fn start_node(&self) -> Option<RedisProcess> {
        let (port, bus) = (free_port(), free_port());
        let dir = self.dir.to_str().expect("a UTF-8 path");
        let file = format!("nodes-{port}.conf");
        let args = [
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            dir,
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            &file,
            "--cluster-port",
            &bus.to_string(),
            "--cluster-node-timeout",
            "2000",
        ];
        RedisProcess::start_with(port, &args)
    }

    fn create(&self) {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.port))
            .collect();
        let replicas = self.replicas.to_string();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", &replicas, "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for _ in 0..400 {
            if self.nodes.iter().all(|m| cluster_ok(m.port)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the Redis Cluster did not reach cluster_state:ok");
    }

    /// The seed URLs of every node, comma-separated (`redis_url` with
    /// `redis_cluster = true`).
    pub fn url(&self) -> String {
        let urls: Vec<String> = self.nodes.iter().map(RedisProcess::url).collect();
        urls.join(",")
    }

    /// A connection to the cluster under a fresh prefix.
    pub async fn connect(&self, name: &str) -> Redis {
        self.connect_prefix(&unique_prefix(name)).await
    }

    /// A connection of its own to the cluster under `prefix`.
    pub async fn connect_prefix(&self, prefix: &str) -> Redis {
        self.connect_seeds(prefix, &self.url()).await
    }

    /// A connection to the cluster under `prefix` that knows only the
    /// node `at` as its seed (its bus subscribes there).
    pub async fn connect_via(&self, prefix: &str, at: usize) -> Redis {
        self.connect_seeds(prefix, &self.nodes[at].url()).await
    }

    /// A connection to the cluster under `prefix` with these seed URLs.
    pub async fn connect_seeds(&self, prefix: &str, seeds: &str) -> Redis {
        let options = RedisOptions {
            prefix: prefix.to_owned(),
            cluster: true,
            ..RedisOptions::default()
        };
        Redis::connect(seeds, options)
            .await
            .expect("connect to the test Redis Cluster")
    }

    /// Keys held by each master (`DBSIZE`), to see the data spread.
    pub fn keys_per_master(&self) -> Vec<u64> {
        self.masters()
            .map(|m| cli(m.port, &["DBSIZE"]).trim().parse().unwrap_or(0))
            .collect()
    }

    /// The nodes that are masters now (`ROLE`).
    pub fn masters(&self) -> impl Iterator<Item = &RedisProcess> {
        self.nodes
            .iter()
            .filter(|n| cli(n.port, &["ROLE"]).starts_with("master"))
    }

    /// The position in `nodes` of the master that holds `key`, and whether
    /// its replicas have everything it wrote (replication offsets equal).
    pub fn master_of(&self, key: &str) -> Option<(usize, bool)> {
        let slot = cli(self.nodes[0].port, &["CLUSTER", "KEYSLOT", key]);
        let slot = slot.trim();
        self.nodes.iter().enumerate().find_map(|(at, n)| {
            let owns = cli(n.port, &["ROLE"]).starts_with("master")
                && cli(n.port, &["CLUSTER", "COUNTKEYSINSLOT", slot]).trim() != "0";
            owns.then(|| (at, replicated(&cli(n.port, &["INFO", "replication"]))))
        })
    }
}

impl RedisCluster {
    /// Whether the master `at` has a replica and every replica of it holds
    /// as many keys as it does (`ROLE`, `DBSIZE`).
    pub fn replicas_hold_all_of(&self, at: usize) -> bool {
        let port = self.nodes[at].port.to_string();
        let keys = |p: u16| cli(p, &["DBSIZE"]).trim().to_owned();
        let want = keys(self.nodes[at].port);
        let replicas: Vec<&RedisProcess> = self
            .nodes
            .iter()
            .filter(|n| {
                let role = cli(n.port, &["ROLE"]);
                let mut lines = role.lines();
                lines.next() == Some("slave") && lines.nth(1) == Some(port.as_str())
            })
            .collect();
        !replicas.is_empty() && replicas.iter().all(|r| keys(r.port) == want)
    }

    /// Each node's port, role and key count, for a failure message.
    pub fn describe(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let role = cli(n.port, &["ROLE"]);
                let role = role.lines().next().unwrap_or("down");
                let keys = cli(n.port, &["DBSIZE"]);
                format!("{}: {role} {} keys", n.port, keys.trim())
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `redis-cli -p port --raw <args>`: its output.
fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--raw"])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether a master's `INFO replication` shows replicas, all caught up
/// with its `master_repl_offset`.
fn replicated(info: &str) -> bool {
    let master = info
        .lines()
        .find_map(|l| l.strip_prefix("master_repl_offset:"))
        .map(str::trim);
    let replicas: Vec<Option<&str>> = info
        .lines()
        .filter(|l| l.starts_with("slave") && l.contains("offset="))
        .map(|l| l.split(',').find_map(|p| p.strip_prefix("offset=")))
        .collect();
    !replicas.is_empty() && replicas.iter().all(|o| o.is_some() && *o == master)
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether the node on `port` says `cluster_state:ok`.
fn cluster_ok(port: u16) -> bool {
    Command::new("redis-cli")
        .args(["-p", &port.to_string(), "CLUSTER", "INFO"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
}

/// Panics, failing the test, unless `binary` (`redis-server`, `redis-cli`)
/// runs: a test that needs a real Redis must not pass without one.
pub fn require(binary: &str) {
    let runs = Command::new(binary)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(runs, "{}", missing(binary));
}

/// What the failure of a test without `binary` says.
pub fn missing(binary: &str) -> String {
    format!(
        "{binary} is not installed, and this test needs a real Redis: run scripts/tools.sh \
         (it installs the Debian packages redis-server and redis-tools), or leave the Redis \
         tests out with `SB_TEST_SKIP=redis scripts/test.sh` (counted as skipped)"
    )
}

/// Runs the test `name` (its full path in this test binary, module and
/// all) again in a child process whose
/// PATH holds no `redis-server`, and checks that it fails saying so: a
/// Redis test without Redis fails, it does not pass silently.
pub fn assert_fails_without_redis(name: &str) {
    let empty = std::env::temp_dir().join(format!("sb-no-redis-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("a temporary directory");
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env("PATH", &empty)
        .env_remove("CI")
        .output()
        .expect("run the test binary again");
    let _ = std::fs::remove_dir(&empty);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "{name} passed without redis-server:\n{text}"
    );
    assert!(
        text.contains(&missing("redis-server")),
        "{name} failed, but not for the missing redis-server:\n{text}"
    );
    assert!(text.contains("1 failed"), "{name} did not run:\n{text}");
}

/// A loopback port nothing listens on (as far as one can tell).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// A key prefix no other test in this process uses.
pub fn unique_prefix(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A connection to `server` under a fresh prefix.
pub async fn connect(server: &RedisProcess, name: &str) -> Redis {
    connect_prefix(server, &unique_prefix(name)).await
}

/// A connection of its own to `server` under `prefix` (as another node).
pub async fn connect_prefix(server: &RedisProcess, prefix: &str) -> Redis {
    let options = RedisOptions {
        prefix: prefix.to_owned(),
        ..RedisOptions::default()
    };
    Redis::connect(&server.url(), options)
        .await
        .expect("connect to the test redis-server")
}
