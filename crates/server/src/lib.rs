//! The HTTP front of Switchboard.
//!
//! It owns the Streamable HTTP endpoint `/mcp` for the session-based MCP
//! versions: header checks (DNS-rebinding protection, `Accept`, content type,
//! body limits), session resolution against the [`SessionStore`], the
//! node-local registry of live streams and waiting requests, SSE framing with
//! priming events, keep-alives and `Last-Event-ID` resumption, and the accept
//! loop. Protocol semantics live in `switchboard-proto`; tools, resources and
//! prompts in `switchboard-runtime`.
//!
//! [`SessionStore`]: switchboard_store::SessionStore

mod admin;
mod app;
mod legacy_sse;
mod listener;
mod mcp;
mod metadata;
mod modern;
#[cfg(test)]
mod proptest_cases;
mod stdio;
/// Starting `[[upstreams]]` as catalog providers (in `switchboard-ops`).
pub mod upstreams {
    pub use switchboard_ops::upstreams::{Started, start_upstream};
}

pub use admin::{admin_router, serve_admin};
pub use app::{App, AppBuilder, BuildError};
pub use listener::serve;
pub use stdio::{STDIO_SESSION, StdioOptions, serve_stdio, serve_stdio_with};
pub use switchboard_cluster::{ClusterEvents, FORWARD_HEADER, UPSTREAM_RESET};
pub use switchboard_config::{
    AdminConfig, AnonymousMode, ApiKeyConfig, AuthConfig, CapPolicy, Config, ConfigError,
    RateConfig, Rules, Secret, StoreKind, TelemetryConfig, TenantConfig, redact_url,
};
pub use switchboard_http::TransportError;
pub use switchboard_ops::reload::{ReloadError, ReloadReport, reload_upstreams};
