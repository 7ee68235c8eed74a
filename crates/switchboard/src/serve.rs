//! `switchboard serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
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

/// Defaults, then the file, then the environment.
pub(crate) fn load_config(path: Option<&PathBuf>) -> Result<Config, String> {
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
    let mut config = load_config(args.config.as_ref())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    crate::start_traces(&config)?;
    let shared = crate::stores::connect(&config).await?;
    let events = shared.as_ref().and_then(crate::stores::Shared::events);
    let bus = events
        .clone()
        .map(|e| e as Arc<dyn switchboard_runtime::EventBus>);
    let built = crate::gateway::build(&config, bus).await?;
    let catalog = Arc::new(built.catalog);
    crate::gateway::reap_idle(catalog.clone());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let admin = bind_admin(&config).await?;
    let mut builder =
        App::builder(config.clone(), catalog).tenant_processes(built.tenant_processes);
    if let Some(events) = events {
        builder = builder.cluster_events(events);
    }
    let advertise = advertise_url(&config, addr);
    let (builder, store) = crate::stores::attach(builder, &config, shared, advertise);
    let app = builder.try_build().map_err(|e| e.to_string())?;
    crate::reload::watch(app.clone(), args.config.clone(), args.listen);
    let admin_addr = match admin {
        Some(listener) => Some(run_admin(listener, &app)?),
        None => None,
    };
    print_banner(addr, &store, app.auth_summary(), admin_addr);
    switchboard_server::serve(listener, app, shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

/// This node's MCP URL as the other nodes reach it: `advertise_url`, else
/// the bound address (unusable by others when it is a wildcard: said once).
fn advertise_url(config: &Config, addr: SocketAddr) -> String {
    if let Some(url) = &config.advertise_url {
        return url.clone();
    }
    if addr.ip().is_unspecified() && config.store == switchboard_server::StoreKind::Redis {
        tracing::warn!(
            "listening on {addr} without advertise_url: other nodes cannot forward per_session \
             upstream calls here; set advertise_url to this node's reachable http://host:port/mcp"
        );
    }
    format!("http://{addr}/mcp")
}

/// The admin listener, bound now (so a taken port fails the start), if an
/// admin token is configured; otherwise one line on how to enable it.
async fn bind_admin(config: &Config) -> Result<Option<tokio::net::TcpListener>, String> {
    let admin = &config.admin;
    if admin.token_sha256.is_none() {
        tracing::info!(
            "admin API off: set [admin] token_sha256 (see `switchboard keys new --admin`) to serve it on {}",
            admin.listen
        );
        return Ok(None);
    }
    tokio::net::TcpListener::bind(admin.listen)
        .await
        .map(Some)
        .map_err(|e| format!("cannot listen on {} (admin): {e}", admin.listen))
}

/// Serve the admin API beside the main listener until the app shuts down.
fn run_admin(listener: tokio::net::TcpListener, app: &App) -> Result<SocketAddr, String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let stop = app.shutdown_token().clone();
    tokio::spawn(switchboard_server::serve_admin(
        listener,
        app.clone(),
        async move { stop.cancelled().await },
    ));
    Ok(addr)
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
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
}
