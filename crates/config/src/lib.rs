//! Switchboard's configuration: the bottom layer of the server.
//!
//! [`Config`] holds every key with its default (an empty file is a valid
//! configuration); [`Config::load`] layers built-in defaults, a TOML file
//! and `SWITCHBOARD_…` environment variables, and every error names the key
//! and the layer its value came from. The sections are typed: `[admin]`
//! ([`AdminConfig`]), `[telemetry]` ([`TelemetryConfig`]), the store keys
//! ([`StoreKind`]), `[auth]` and `[[tenants]]` ([`AuthConfig`],
//! [`TenantConfig`], [`Rules`]), `[[policies]]` ([`PolicyConfig`], compiled
//! to [`PolicyRule`]s), and `[[upstreams]]` (the gateway's own
//! `UpstreamConfig`). [`Live`] is the handle a reload swaps: the
//! configuration in effect, or anything compiled from it.
//!
//! This crate may use `switchboard-auth` (JWT issuer settings),
//! `switchboard-limits` (to check rates) and `switchboard-upstream` (the
//! upstream entries), and no other part of Switchboard; every other part
//! may use it.

#![warn(missing_docs)]

mod admin;
mod cap_policy;
mod config;
mod duration;
mod hooks;
mod layers;
mod live;
pub mod mcp_servers;
mod overrides;
mod policies;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod proptest_cases;
mod redact;
mod rules;
mod secret;
mod servers;
mod store;
mod telemetry;
mod tenants;
mod validate;
mod vault;

pub use admin::AdminConfig;
pub use cap_policy::CapPolicy;
pub use config::{Config, ConfigError};
pub use hooks::{HookConfig, HookFailure};
pub use live::Live;
pub use overrides::{ArgumentError, CompiledOverride, ToolOverride};
pub use policies::{Denial, PolicyConfig, PolicyRule};
pub use redact::{RedactConfig, RedactPattern};
pub use rules::{Rules, glob};
pub use secret::Secret;
pub use servers::ServerConfig;
pub use store::{StoreKind, redact_url};
pub use switchboard_policy::Redactor;
pub use telemetry::TelemetryConfig;
pub use tenants::{
    ANONYMOUS, AnonymousMode, ApiKeyConfig, AuthConfig, RateConfig, TenantConfig,
    server_resource_url,
};
pub use vault::{VaultConfig, VaultKeyConfig};
