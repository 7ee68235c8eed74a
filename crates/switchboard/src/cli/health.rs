//! `switchboard health [HOST:PORT] [PATH]`: GET a node's health path and
//! exit 0 on a 200 — the container image's `HEALTHCHECK` (the image has no
//! shell and no curl).

use std::time::Duration;

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// The node's listener. Default: the port of SWITCHBOARD_LISTEN (the
    /// variable `serve` reads) on 127.0.0.1, else 127.0.0.1:8080; a
    /// wildcard host is probed on loopback.
    address: Option<String>,
    /// The path asked for: `/healthz` (alive) or `/readyz` (taking work).
    #[arg(default_value = "/healthz")]
    path: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    timeout_secs: u64,
}

pub(crate) async fn run(args: HealthArgs) -> Result<(), String> {
    let address = args.address.clone().unwrap_or_else(default_address);
    let url = format!("http://{address}{}", args.path);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_secs))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let resp = http.get(&url).send().await.map_err(|e| {
        format!(
            "{url}: {}",
            if e.is_timeout() {
                "timed out"
            } else {
                "unreachable"
            }
        )
    })?;
    match resp.status().as_u16() {
        200 => Ok(()),
        s => Err(format!("{url}: HTTP {s}")),
    }
}

/// 127.0.0.1 and the port of SWITCHBOARD_LISTEN, else 127.0.0.1:8080.
fn default_address() -> String {
    let port = std::env::var("SWITCHBOARD_LISTEN")
        .ok()
        .and_then(|l| l.rsplit_once(':').map(|(_, p)| p.to_owned()))
        .filter(|p| p.parse::<u16>().is_ok())
        .unwrap_or_else(|| "8080".into());
    format!("127.0.0.1:{port}")
}
