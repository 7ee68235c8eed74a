//! The gateway side of upstreams: their configuration, and stdio upstreams
//! as providers of tools in Switchboard's namespace.

mod backoff;
mod config;
mod connection;
mod lanes;
mod limit;
mod lists;
mod pins;
mod pool;
mod provider;
mod relay;
mod retry;
mod shared;
mod stateless;
mod tenants;

pub use config::{
    Credentials, PoolMode, TenantCredentials, UpstreamConfig, UpstreamKind, UpstreamProtocol,
};
pub use pins::{PinBook, PinMode, PinRecord, PinView, Seen, diff, digest};
pub use pool::TenantProcesses;
pub use provider::StdioProvider;
pub use shared::UpstreamsShared;
pub use switchboard_identity::{Grant, UpstreamAuth};
