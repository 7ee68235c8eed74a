//! The composition root of Switchboard.
//!
//! The [`App`] builds every service (the gate, sessions, tasks, the
//! cluster, operations, reload, connections, the node's lifecycle) and
//! hands each down; its router merges the fronts' routes
//! (`switchboard-fronts`: `/mcp`, the 2024-11-05 transport, the metadata
//! document) with the health and metrics routes (`switchboard-ops`);
//! [`App::start`] starts its background work (the reaper, the notifier,
//! the task sweep, the cluster's services) as a [`Background`] it stops in
//! the drain's order; and [`serve`] is the accept loop, which does both.
//! The stdio front is re-exported from `switchboard-fronts`.

#![warn(missing_docs)]

mod admin;
mod app;
mod background;
mod listener;
mod oauth;
/// Starting `[[upstreams]]` as catalog providers (in `switchboard-ops`).
pub mod upstreams {
    pub use switchboard_ops::upstreams::{Started, start_upstream};
}

pub use admin::{admin_router, serve_admin};
pub use app::{App, AppBuilder, BuildError};
pub use background::Background;
pub use listener::serve;
pub use oauth::oauth_server;
pub use switchboard_cluster::{ClusterEvents, FORWARD_HEADER, UPSTREAM_RESET};
pub use switchboard_config::mcp_servers;
pub use switchboard_config::{
    AdminConfig, AnonymousMode, ApiKeyConfig, AuthConfig, CapPolicy, Config, ConfigError,
    HookConfig, HookFailure, PolicyConfig, RateConfig, RedactConfig, RedactPattern, Rules, Secret,
    ServerConfig, StoreKind, TelemetryConfig, TenantConfig, redact_url,
};
pub use switchboard_fronts::{STDIO_SESSION, StdioOptions, serve_stdio, serve_stdio_with};
pub use switchboard_http::TransportError;
pub use switchboard_ops::reload::{ReloadError, ReloadReport, reload_upstreams};
