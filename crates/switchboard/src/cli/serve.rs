//! `switchboard serve` ([`Builder::build`], [`Server::serve`]) and
//! `switchboard check-config`.
//!
//! [`Builder::build`]: switchboard::Builder::build
//! [`Server::serve`]: switchboard::Server::serve

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use switchboard::{Config, Switchboard};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080, or the config file's `listen`).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// A TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A JSON file of MCP servers in the `mcpServers` format of MCP clients
    /// (Claude Desktop, Cursor, VS Code), served as upstreams (each under
    /// its key as name and prefix); read again on every reload.
    #[arg(long)]
    mcp_config: Option<PathBuf>,
}

/// Defaults, then the file, then the environment.
fn load_config(path: Option<&PathBuf>) -> Result<Config, String> {
    Config::load(path.map(PathBuf::as_path), std::env::vars()).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The TOML configuration file to check.
    file: PathBuf,
}

/// `switchboard check-config FILE`: validate and print the effective
/// configuration (file and environment applied), secrets redacted.
pub(crate) fn check_config(args: CheckArgs) -> Result<(), String> {
    let config = load_config(Some(&args.file))?;
    print!("{}", config.redacted_toml());
    eprintln!("{}: valid", args.file.display());
    Ok(())
}

pub(crate) async fn run(args: ServeArgs) -> Result<(), String> {
    let mut builder = Switchboard::builder();
    if let Some(path) = args.config {
        builder = builder.config_file(path);
    }
    if let Some(listen) = args.listen {
        builder = builder.listen(listen);
    }
    if let Some(path) = args.mcp_config {
        builder = builder.mcp_config(path);
    }
    let server = builder.build().await.map_err(|e| e.to_string())?;
    print_banner(
        server.local_addr(),
        server.store_summary(),
        server.auth_summary(),
        server.admin_addr(),
    );
    server
        .serve(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(target: "switchboard::serve", "stopped");
    Ok(())
}

/// The URL and a first request to try. Written without `println!`, which
/// would panic if stdout is closed: a server must not die of that.
fn print_banner(addr: SocketAddr, store: &str, auth: String, admin: Option<SocketAddr>) {
    use std::io::Write;
    let url = format!("http://{addr}/mcp");
    let admin = admin.map_or_else(String::new, |a| {
        format!(" admin API at http://{a}/admin/v1")
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "Switchboard {} serving MCP at {url} (toolset: everything, store: {store}; {auth}){admin}",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "Try: curl -si {url} -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
         -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"curl\",\"version\":\"1\"}}}}}}'"
    );
    let _ = out.flush();
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!(
        target: "switchboard::serve",
        "shutting down: no new connections, finishing in-flight requests"
    );
}
