//! `switchboard stdio`: one client over stdin/stdout ([`Builder::serve_stdio`]).
//!
//! [`Builder::serve_stdio`]: switchboard::Builder::serve_stdio

use std::path::PathBuf;

use clap::Args;
use switchboard::Switchboard;

#[derive(Debug, Args)]
pub(crate) struct StdioArgs {
    /// A TOML configuration file, as for `serve`.
    ///
    /// Its `[[upstreams]]` (stdio commands, HTTP servers, `builtin`) are what
    /// this one client is served, merged into one namespace under their
    /// prefixes exactly as `serve` does (a tool name two of them share stops
    /// the start); without any, the built-in toolset. Each upstream keeps
    /// its own settings (processes, breaker, timeouts, protocol). The client
    /// is one session to them: a `per_session` upstream gets one process,
    /// started with the client's capabilities, and its sampling,
    /// elicitation and roots requests go to the client. Every upstream
    /// process ends when stdin closes. Of the top-level keys, `page_size`,
    /// `max_body_bytes` (the longest input line), `client_request_timeout_secs`,
    /// `upstream_pool_size`, `config_watch` and `[telemetry]` apply; the HTTP
    /// server's (`listen`, `[[tenants]]`, `[auth]`, `[admin]`, the store,
    /// sessions, …) do not, and those set are named in one warning at
    /// start. The upstreams are reloaded on SIGHUP and when the file changes.
    #[arg(long, verbatim_doc_comment)]
    config: Option<PathBuf>,
    /// A JSON file of MCP servers in the `mcpServers` format of MCP clients
    /// (Claude Desktop, Cursor, VS Code), served as upstreams too.
    #[arg(long)]
    mcp_config: Option<PathBuf>,
}

pub(crate) async fn run(args: StdioArgs) -> Result<(), String> {
    let mut builder = Switchboard::builder();
    if let Some(path) = args.config {
        builder = builder.config_file(path);
    }
    if let Some(path) = args.mcp_config {
        builder = builder.mcp_config(path);
    }
    builder
        .serve_stdio(super::serve::shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}
