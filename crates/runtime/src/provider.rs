//! Providers: tools that live somewhere else (an upstream MCP server behind
//! the gateway), merged into the catalog's namespace.

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::context::RequestContext;
use crate::dispatch::HandlerError;

/// How a provider is doing, for metrics and readiness.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderHealth {
    /// Processes (or connections) it holds now.
    pub processes: usize,
    /// `closed`, `open` or `half_open`.
    pub breaker: &'static str,
    /// Calls made so far.
    pub calls: u64,
    /// Of those, calls that failed for the upstream's reasons (timeouts,
    /// crashes, refusals while open) — not tool errors.
    pub failures: u64,
}

/// A source of tools outside the catalog. The catalog lists its tools after
/// its own, and routes a call to the provider that owns the tool's name.
#[async_trait]
pub trait Provider: Send + Sync + fmt::Debug {
    /// A short name for logs and metrics (an upstream's name).
    fn name(&self) -> &str;

    /// Whether `tool`, a name in the merged namespace (prefix included), is
    /// this provider's.
    fn owns_tool(&self, tool: &str) -> bool;

    /// Its tools' definitions, names in the merged namespace, as the
    /// caller of `ctx` would see them upstream.
    async fn list_tools(&self, ctx: &RequestContext) -> Result<Vec<Value>, String>;

    /// Call `tool` (merged name) with the request's raw params (they still
    /// carry the merged name; the provider rewrites it).
    async fn call_tool(
        &self,
        tool: &str,
        params: Option<&RawValue>,
        ctx: RequestContext,
    ) -> Result<Value, HandlerError>;

    /// A session ended: let go of what it held (its upstream process).
    async fn session_ended(&self, _session: &str) {}

    /// How it is doing.
    fn health(&self) -> ProviderHealth {
        ProviderHealth {
            breaker: "closed",
            ..ProviderHealth::default()
        }
    }
}
