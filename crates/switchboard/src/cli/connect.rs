//! `switchboard connect URL`: a local stdio client (a desktop app that
//! can only start a command) bridged to a remote MCP server over
//! Streamable HTTP — a Switchboard or any other — with a credential from
//! an environment variable or a file.
//!
//! It is the stdio gateway (`switchboard stdio`) with one HTTP upstream and
//! no prefix: the client sees the remote's tools, resources and prompts
//! under their own names, and the remote's requests (sampling,
//! elicitation, roots), progress, logs and cancellations pass both ways.
//! The remote's era is asked once (`server/discover`); `--protocol`
//! fixes it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use switchboard::{Config, Switchboard};
use switchboard_secret::{Reference, Secret};
use switchboard_upstream::gateway::{UpstreamConfig, UpstreamKind, UpstreamProtocol};

/// The variable read for a credential when none is named.
const DEFAULT_TOKEN_ENV: &str = "SWITCHBOARD_API_KEY";

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// The remote MCP endpoint, e.g. `https://mcp.example.com/mcp`.
    url: String,
    /// The environment variable holding the API key or bearer token, sent
    /// as `Authorization: Bearer …` (default: SWITCHBOARD_API_KEY, if set).
    #[arg(long, conflicts_with = "token_file")]
    token_env: Option<String>,
    /// A file holding it (read when the bridge starts).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The remote's era: `auto` (ask it), `session` or `stateless`.
    #[arg(long, value_enum, default_value_t = Protocol::Auto)]
    protocol: Protocol,
    /// Seconds one call may take before the client is told it timed out.
    #[arg(long, default_value_t = 300)]
    call_timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Protocol {
    Auto,
    Session,
    Stateless,
}

pub(crate) async fn run(args: ConnectArgs) -> Result<(), String> {
    let config = config(&args)?;
    refused(&config.upstreams[0]).await?;
    Switchboard::builder()
        .config(config)
        .serve_stdio(super::serve::shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// The stdio gateway's configuration: the remote as its only upstream.
fn config(args: &ConnectArgs) -> Result<Config, String> {
    let url = reqwest::Url::parse(&args.url).map_err(|e| format!("{}: {e}", args.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{}: not an http(s) URL", args.url));
    }
    let mut headers = BTreeMap::new();
    if let Some(token) = credential(args)? {
        headers.insert("Authorization".to_owned(), token);
    }
    let remote = UpstreamConfig {
        name: "remote".into(),
        kind: UpstreamKind::Http,
        url: args.url.clone(),
        prefix: Some(String::new()),
        headers,
        call_timeout_secs: args.call_timeout_secs,
        protocol: match args.protocol {
            Protocol::Auto => UpstreamProtocol::Auto,
            Protocol::Session => UpstreamProtocol::Session,
            Protocol::Stateless => UpstreamProtocol::Stateless,
        },
        ..UpstreamConfig::default()
    };
    let config = Config {
        upstreams: vec![remote],
        ..Config::default()
    };
    config
        .validate()
        .map_err(|(key, message)| format!("{key}: {message}"))?;
    Ok(config)
}

/// Whether the remote refuses the credential (or its absence): said at
/// once, since the bridge serves nothing else. A remote that cannot be
/// reached now is left to the gateway, which keeps trying.
async fn refused(remote: &UpstreamConfig) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = http
        .post(&remote.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#);
    if let Some(token) = remote.headers.get("Authorization") {
        req = req.header("authorization", token.expose());
    }
    let Ok(resp) = req.send().await else {
        return Ok(());
    };
    let status = resp.status();
    if status != reqwest::StatusCode::UNAUTHORIZED && status != reqwest::StatusCode::FORBIDDEN {
        return Ok(());
    }
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let hint = if remote.headers.contains_key("Authorization") {
        "the credential was refused"
    } else {
        "a credential is needed: set SWITCHBOARD_API_KEY, or give --token-env or --token-file"
    };
    Err(format!(
        "{}: HTTP {}{challenge}: {hint}",
        remote.url,
        status.as_u16()
    ))
}

/// `Bearer <token>` from the file, the named variable, or the default
/// variable if it is set; none without any.
fn credential(args: &ConnectArgs) -> Result<Option<Secret>, String> {
    let mut reference = Reference {
        prefix: Some("Bearer ".into()),
        ..Default::default()
    };
    match (&args.token_file, &args.token_env) {
        (Some(file), _) => reference.file = Some(file.clone()),
        (None, Some(var)) => reference.env = Some(var.clone()),
        (None, None) if std::env::var_os(DEFAULT_TOKEN_ENV).is_some() => {
            reference.env = Some(DEFAULT_TOKEN_ENV.into())
        }
        (None, None) => return Ok(None),
    }
    Secret::resolve(reference).map(Some)
}
