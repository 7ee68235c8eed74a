//! A `switchboard serve` child process for the binary's tests.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `switchboard serve` on an ephemeral loopback port; killed on drop.
pub struct Node {
    pub child: Child,
    pub url: String,
    /// The admin listener's base URL (`http://addr`), if it runs.
    #[allow(dead_code)] // read by the admin CLI tests only
    pub admin: Option<String>,
}

impl Node {
    /// Start it with `config` (if any) and these environment variables, and
    /// wait for its banner, which names the URL.
    pub fn spawn(config: Option<&Path>, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"]);
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        let mut child = cmd
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn switchboard");
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
        Self { child, url, admin }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
