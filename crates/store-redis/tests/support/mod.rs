//! A real `redis-server` on a free loopback port, killed on drop.
//!
//! Without `redis-server` on the PATH a test skips with a note, except under
//! CI (`CI` set), where it fails: CI installs Redis (`.ci/run`).

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
    /// Start one on a free port; `None` (after a note) if `redis-server` is
    /// missing outside CI.
    pub fn start() -> Option<Self> {
        if !installed() {
            return None;
        }
        for _ in 0..5 {
            if let Some(p) = Self::start_on(free_port()) {
                return Some(p);
            }
        }
        panic!("redis-server did not start on a free port in 5 tries");
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

    fn start_with(port: u16, args: &[&str]) -> Option<Self> {
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

/// Whether `redis-server` is there; false (after a note) outside CI, a
/// failure under CI.
pub fn installed() -> bool {
    if !available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "redis-server is not installed, and CI needs it (.ci/run installs the Debian package redis-server)"
        );
        eprintln!("note: redis-server is not installed; skipping this Redis test");
        return false;
    }
    true
}

fn available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
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
