//! `switchboard serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use switchboard_runtime::Catalog;
use switchboard_server::{App, Config};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080, or the config file's `listen`).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// A TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct StdioArgs {
    /// A TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
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

fn catalog(config: &Config) -> Result<Catalog, String> {
    switchboard_everything::everything()
        .page_size(config.page_size)
        .build()
        .map_err(|e| format!("invalid toolset: {e}"))
}

pub(crate) async fn run_stdio(args: StdioArgs) -> Result<(), String> {
    let config = load_config(args.config.as_ref())?;
    let catalog = Arc::new(catalog(&config)?);
    switchboard_server::serve_stdio(
        catalog,
        tokio::io::stdin(),
        tokio::io::stdout(),
        config.max_body_bytes,
    )
    .await
    .map_err(|e| e.to_string())
}

pub(crate) async fn run(args: ServeArgs) -> Result<(), String> {
    let mut config = load_config(args.config.as_ref())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    crate::start_traces(&config)?;
    let built = crate::gateway::build(&config).await?;
    let catalog = built.catalog;
    crate::gateway::reap_idle(built.providers);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (builder, store) =
        crate::stores::attach(App::builder(config.clone(), Arc::new(catalog)), &config).await?;
    let app = builder.try_build().map_err(|e| e.to_string())?;
    print_banner(addr, &store, app.auth_summary());
    switchboard_server::serve(listener, app, shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

/// The URL and a first request to try. Written without `println!`, which
/// would panic if stdout is closed: a server must not die of that.
fn print_banner(addr: SocketAddr, store: &str, auth: String) {
    use std::io::Write;
    let url = format!("http://{addr}/mcp");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "Switchboard {} serving MCP at {url} (toolset: everything, store: {store}; {auth})",
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
async fn shutdown_signal() {
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
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
}
