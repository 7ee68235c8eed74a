//! rmcp-echo: a reference MCP server for Switchboard's load generator.
//!
//! One tool, `echo` (`{"message": string}` -> one text content equal to the
//! message), served over Streamable HTTP at `/mcp` by rmcp's
//! `StreamableHttpService` with a `LocalSessionManager` (stateful sessions).
//! Apart from the listener, every rmcp setting is its default.
//!
//! Usage: rmcp-echo [PORT]   (or RMCP_ECHO_PORT; default 8931). Binds 127.0.0.1 only.

use std::sync::Arc;

use rmcp::{
    ErrorData, ServerHandler,
    handler::server::{tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use serde::Deserialize;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// Text to send back unchanged.
    message: String,
}

#[derive(Debug, Clone)]
struct Echo {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Echo {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Returns the message unchanged as one text content.")]
    async fn echo(
        &self,
        Parameters(EchoArgs { message }): Parameters<EchoArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text(message)]))
    }
}

// Route through the router stored on the struct (built once per session by
// the service factory) instead of the macro's default `Self::tool_router()`,
// which would rebuild the router on every call.
#[tool_handler(router = self.tool_router)]
impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("RMCP_ECHO_PORT").ok())
        .map(|p| p.parse().expect("PORT must be a number"))
        .unwrap_or(8931);

    let config = StreamableHttpServerConfig::default();
    eprintln!(
        "rmcp-echo: legacy_session_mode={} json_response={} allowed_hosts={:?}",
        config.legacy_session_mode, config.json_response, config.allowed_hosts
    );
    let cancel = config.cancellation_token.clone();
    let service = StreamableHttpService::new(
        || Ok(Echo::new()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let app = axum::Router::new().nest_service("/mcp", service);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("rmcp-echo: listening on http://{}/mcp", listener.local_addr()?);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            cancel.cancel();
        })
        .await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
