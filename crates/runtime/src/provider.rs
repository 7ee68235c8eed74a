//! Providers: tools that live somewhere else (an upstream MCP server behind
//! the gateway), merged into the catalog's namespace.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::context::RequestContext;
use crate::error::HandlerError;

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
    /// Processes (or connections) being started now.
    pub starting: usize,
    /// Of `processes` and a warm one, those serving no request now.
    pub idle: usize,
    /// Processes started in place of one that died, so far.
    pub restarts: u64,
    /// Processes the provider ended itself so far (a session ended, idle,
    /// a warm process giving its slot up).
    pub kills: u64,
    /// `stdio`, `http` or `builtin` (the default).
    pub kind: &'static str,
    /// What its names are prefixed with in the catalog (empty: none).
    pub prefix: String,
    /// Tools it listed last.
    pub tools: usize,
}

/// Where a provider reports what it sees as it happens (latencies, waits,
/// errors), for histograms; its counts and gauges are read from
/// [`Provider::health`]. Labels stay bounded: the receiver maps `method`
/// onto the known MCP methods and `reason` is one of a few fixed words.
pub trait UpstreamObserver: Send + Sync + fmt::Debug {
    /// A new session or principal waited `waited` for a process slot of
    /// `upstream` (zero when one was free).
    fn pool_waited(&self, upstream: &str, waited: Duration);

    /// A request to `upstream` finished after `took`; `error` is why it
    /// failed (`timeout`, `exited`, `unavailable`, `limited`,
    /// `circuit_open`, `upstream`…), `None` if it did not.
    fn request(&self, upstream: &str, method: &str, took: Duration, error: Option<&'static str>);

    /// A token for an upstream from an identity provider was had or not.
    fn token(&self, _event: TokenEvent<'_>) {}

    /// An upstream presented a tool definition that is not the approved
    /// one (pinning).
    fn pin(&self, _event: PinEvent<'_>) {}
}

/// A tool definition an upstream presented that differs from its approved
/// one (`changed`), or that was never approved (`new`); `held` back
/// (`pinning = "enforce"`) or served and `alerted` (`"warn"`).
#[derive(Debug, Clone, Copy)]
pub struct PinEvent<'a> {
    /// The upstream.
    pub upstream: &'a str,
    /// The tool, by the upstream's own name.
    pub tool: &'a str,
    /// `changed` or `new`.
    pub kind: &'static str,
    /// `held` or `alerted`.
    pub outcome: &'static str,
}

/// A caller's token for an upstream from an identity provider: had
/// (`cached`, `issued`) or not (`refused`, `unavailable`, `circuit_open`,
/// `no_client_token`). Carries no token.
#[derive(Debug, Clone, Copy)]
pub struct TokenEvent<'a> {
    /// The upstream.
    pub upstream: &'a str,
    /// Who it was for.
    pub caller: &'a crate::Caller,
    /// How it went.
    pub outcome: &'static str,
}

/// A source of tools outside the catalog. The catalog lists its tools after
/// its own, and routes a call to the provider that owns the tool's name.
#[async_trait]
pub trait Provider: Send + Sync + fmt::Debug {
    /// A short name for logs and metrics (an upstream's name).
    fn name(&self) -> &str;

    /// `tenant`'s `subject` revoked their grants: forget any token held
    /// for them (a provider that keeps none does nothing).
    fn forget_caller(&self, _tenant: &str, _subject: &str) {}

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

    /// The items of another list method (`resources/list`,
    /// `resources/templates/list`, `prompts/list`): prompts' names in the
    /// merged namespace, resources and templates as they are.
    async fn list(&self, _method: &str, _ctx: &RequestContext) -> Result<Vec<Value>, String> {
        Ok(Vec::new())
    }

    /// The definition of its tool `name` (merged namespace), if known.
    fn tool_definition(&self, _name: &str) -> Option<Value> {
        None
    }

    /// Whether the definition of its tool `name` is known: what
    /// [`Provider::tool_definition`] would say, without copying it (asked on
    /// every call).
    fn has_tool_definition(&self, name: &str) -> bool {
        self.tool_definition(name).is_some()
    }

    /// Whether the prompt `name` (merged namespace) is this provider's.
    fn owns_prompt(&self, _name: &str) -> bool {
        false
    }

    /// Whether the resource `uri` (one of its resources, or matching one of
    /// its templates) is this provider's.
    fn owns_resource(&self, _uri: &str) -> bool {
        false
    }

    /// Forward another request (`resources/read`, `prompts/get`,
    /// `completion/complete`) with the client's raw params; a prompt's name
    /// is in the merged namespace.
    async fn forward(
        &self,
        method: &str,
        _params: Option<&RawValue>,
        _ctx: RequestContext,
    ) -> Result<Value, HandlerError> {
        Err(switchboard_proto::RpcError::method_not_found(method).into())
    }

    /// Subscribe the caller to updates of `uri` upstream (or unsubscribe);
    /// updates come back as `ServerEvent::ResourceUpdated` on the catalog's
    /// bus.
    async fn subscribe(
        &self,
        _uri: &str,
        _on: bool,
        _caller: &crate::Caller,
    ) -> Result<(), String> {
        Err("this provider has no subscriptions".into())
    }

    /// A session ended: let go of what it held (its upstream process).
    async fn session_ended(&self, _session: &str) {}

    /// End what has been idle too long (stateless principals' processes);
    /// called every half minute by the server.
    async fn reap_idle(&self) {}

    /// The provider was removed from the catalog (a reload): end every
    /// process or connection it holds and start no more. Calls already
    /// running on them fail.
    async fn shutdown(&self) {}

    /// Report waits, latencies and errors to `observer` from now on.
    fn observe(&self, _observer: Arc<dyn UpstreamObserver>) {}

    /// How it is doing.
    fn health(&self) -> ProviderHealth {
        ProviderHealth {
            breaker: "closed",
            kind: "builtin",
            ..ProviderHealth::default()
        }
    }

    /// The process ids of the processes serving `session` alone
    /// (`per_session` stdio upstreams), for operators.
    fn session_processes(&self, _session: &str) -> Vec<u32> {
        Vec::new()
    }

    /// Whether it keeps a process per session whose state matters
    /// (`per_session` stdio upstreams): on a cluster, such a session's calls
    /// to it go to the one node that owns that process.
    fn per_session_state(&self) -> bool {
        false
    }
}
