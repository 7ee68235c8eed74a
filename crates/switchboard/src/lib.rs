//! Switchboard as a library: serve your own MCP tools with everything the
//! `switchboard` binary has — configuration from defaults, a TOML file and
//! `SWITCHBOARD_*` variables, tenants and API keys, the memory, file or
//! Redis store, `[[upstreams]]` merged into the same namespace, reload on
//! SIGHUP and file change, the admin API, both protocol eras (2025-11-25
//! sessions and 2026-07-28 stateless) and a graceful stop.
//!
//! ```no_run
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//! use switchboard::{Switchboard, Tool};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Greet {
//!     /// Whom to greet.
//!     name: String,
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), switchboard::Error> {
//!     let greet = Tool::typed("greet", "Says hello", |_ctx, Greet { name }: Greet| async move {
//!         Ok(format!("Hello, {name}!"))
//!     });
//!     let server = Switchboard::builder()
//!         .config_file("switchboard.toml") // optional: tenants, store, upstreams, admin…
//!         .tool(greet)
//!         .build()
//!         .await?;
//!     println!("serving at http://{}/mcp", server.local_addr());
//!     server.serve(async { tokio::signal::ctrl_c().await.unwrap() }).await
//! }
//! ```
//!
//! To nest it in an existing axum app instead, take its router:
//!
//! ```no_run
//! # async fn nest(greet: switchboard::Tool) -> Result<(), Box<dyn std::error::Error>> {
//! let mcp = switchboard::Switchboard::builder()
//!     .tool(greet)
//!     .router(async { tokio::signal::ctrl_c().await.unwrap() })
//!     .await?;
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "my app" }))
//!     .merge(mcp); // serves /mcp, /healthz, /readyz, /metrics…
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // With the clients' addresses, so anonymous clients are told apart.
//! let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The tools API is [`switchboard_runtime`]'s, re-exported here as
//! [`runtime`] (and its most used items at the top): a handler gets a
//! [`RequestContext`] to report progress, ask the client for input
//! (elicitation) or a completion (sampling), and see cancellation. The
//! `examples/` folder has a custom tool server (`custom_tools`), the same
//! tools beside a stdio upstream (`with_upstream`) and a server nested in
//! an axum app (`embedded`). Beside `switchboard`, the code above needs
//! `serde`, `schemars = "1"` (for the derive macros) and `tokio`.

#![warn(missing_docs)]

mod builder;
mod gateway;
mod reload;
mod serve;
mod stdio;
mod stores;

pub use builder::Builder;
pub use serve::Server;
/// The tools API: catalogs, tools, resources, prompts, the request context.
pub use switchboard_runtime as runtime;
pub use switchboard_runtime::{
    Catalog, CatalogBuilder, RequestContext, Structured, Tool, ToolError, ToolResult, schemars,
};
pub use switchboard_server::Config;

/// The entry point: [`Switchboard::builder`].
#[derive(Debug)]
pub struct Switchboard;

impl Switchboard {
    /// Start building a server: by default, configured from the defaults
    /// and the `SWITCHBOARD_*` environment variables, serving the built-in
    /// toolset (or the configured upstreams) until tools are added.
    pub fn builder() -> Builder {
        Builder::new()
    }
}

/// Why a server could not start or serve: the message says what and where
/// (an invalid configuration key, an unreachable store, a tool name two
/// sources share, an address in use…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self(message.to_owned())
    }
}

/// Start exporting traces if `[telemetry] otlp_endpoint` is set (the spans
/// come from `switchboard_telemetry::SpanLayer` in the process's tracing
/// subscriber).
pub(crate) fn start_traces(config: &Config) -> Result<(), String> {
    let t = &config.telemetry;
    let Some(endpoint) = &t.otlp_endpoint else {
        return Ok(());
    };
    switchboard_telemetry::start(endpoint, &t.service_name)?;
    tracing::info!(
        endpoint = %switchboard_server::redact_url(endpoint),
        "exporting traces over OTLP/HTTP"
    );
    Ok(())
}
