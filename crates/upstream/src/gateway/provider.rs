//! A stdio upstream as a [`Provider`]: its tools, prompts, resources and
//! templates in the merged namespace, each request run in the caller's own
//! process (`per_session`) or a shared one, behind a circuit breaker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use switchboard_limits::BreakerState;
use switchboard_proto::{ErrorCode, RpcError};
use switchboard_runtime::{HandlerError, Provider, ProviderHealth, RequestContext, TokenEvent};

use super::config::{PoolMode, UpstreamConfig, UpstreamKind, UpstreamProtocol};
use super::connection::Connection;
use super::lanes::{Lane, Lanes};
use super::lists::{Lists, fetch_all};
use super::pool::{Common, Owner, Proc};
use super::shared::UpstreamsShared;
use super::stateless;
use crate::UpstreamError;
use switchboard_identity::{Credential, Grant, Who};

mod guarded;
mod pinned;
mod sign_in;

/// The list methods an upstream is asked for.
const LISTS: [&str; 4] = [
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
];

/// One upstream behind the gateway: stdio processes or Streamable HTTP
/// sessions, one per client session (`per_session`) or shared.
#[derive(Debug)]
pub struct StdioProvider {
    config: UpstreamConfig,
    prefix: String,
    /// A pool and a breaker per credential set (`lanes.rs`).
    lanes: Lanes,
    /// Its concurrency cap and rate (`guarded.rs`).
    limits: super::limit::Limits,
    lists: Lists,
    /// Set when the upstream says a list changed.
    stale: Arc<AtomicBool>,
    next_shared: AtomicUsize,
    calls: AtomicU64,
    failures: AtomicU64,
    /// Whether the upstream serves 2026-07-28 requests, once known.
    era: Era,
    /// Its pinned tool definitions (`pinning`), if on.
    pins: Option<pinned::Pinning>,
}

/// What an upstream's `server/discover` said, once asked.
#[derive(Debug, Default)]
struct Era(AtomicU8);

impl Era {
    const SESSION: u8 = 1;
    const MODERN: u8 = 2;

    /// Whether it serves 2026-07-28; `None` until asked successfully.
    fn known(&self) -> Option<bool> {
        match self.0.load(Ordering::Relaxed) {
            Self::SESSION => Some(false),
            Self::MODERN => Some(true),
            _ => None,
        }
    }

    /// Record the answer; whether it is the first.
    fn set(&self, modern: bool) -> bool {
        let v = if modern { Self::MODERN } else { Self::SESSION };
        self.0.swap(v, Ordering::Relaxed) == 0
    }
}

impl StdioProvider {
    /// A provider for `config` (a validated stdio entry). Nothing starts
    /// until [`StdioProvider::probe`] or the first request.
    pub fn new(config: UpstreamConfig) -> Self {
        Self::with_bus(config, None)
    }

    /// Like [`StdioProvider::new`]; the upstream's `resources/updated`
    /// notifications are published on `bus` (the catalog's), which carries
    /// them to the subscribed sessions.
    pub fn with_bus(
        config: UpstreamConfig,
        bus: Option<Arc<dyn switchboard_runtime::EventBus>>,
    ) -> Self {
        Self::with_shared(config, bus, UpstreamsShared::default())
    }

    /// Like [`StdioProvider::with_bus`], with what the server's upstreams
    /// share: tenants' process counts (tenants' `max_upstream_processes`
    /// cover every upstream together) and the token vault.
    pub fn with_shared(
        config: UpstreamConfig,
        bus: Option<Arc<dyn switchboard_runtime::EventBus>>,
        shared: UpstreamsShared,
    ) -> Self {
        let stale = Arc::new(AtomicBool::new(false));
        let pins = pinned::Pinning::new(
            config.pinning,
            config.pin_first_sight,
            shared.pins.clone(),
            bus.clone(),
        );
        let common = Common {
            stale: stale.clone(),
            bus,
            tenants: shared.processes,
            vault: shared.vault,
            ..Common::default()
        };
        Self {
            prefix: config.prefix(),
            lanes: Lanes::new(&config, &common),
            limits: super::limit::Limits::new(&config),
            config,
            lists: Lists::default(),
            stale,
            next_shared: AtomicUsize::new(0),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            era: Era::default(),
            pins,
        }
    }

    /// Start a process, list what it offers (so names are known and
    /// collisions show at start-up), and keep one warm for the first
    /// session. Returns its tool names.
    pub async fn probe(&self) -> Result<Vec<String>, String> {
        let probed = self.probe_once().await;
        // Supervised even when the probe failed: a shared upstream that was
        // down at start-up is restarted (with back-off) once it can be.
        self.supervise();
        probed
    }

    async fn probe_once(&self) -> Result<Vec<String>, String> {
        let lane = self.lanes.probing();
        let bearer = match &lane.identity {
            None => None,
            // A caller's own tokens: nobody calls at start-up.
            Some(_)
                if self
                    .config
                    .auth
                    .as_ref()
                    .is_some_and(|a| a.grant != Grant::ClientCredentials) =>
            {
                tracing::info!(
                    upstream = %self.config.name,
                    "upstream acts as each caller: listed at the first caller's request"
                );
                return Ok(Vec::new());
            }
            Some(_) => {
                let service = switchboard_runtime::Caller {
                    tenant: self.lanes.probing_tenant().unwrap_or_default().into(),
                    ..switchboard_runtime::Caller::anonymous()
                };
                self.bearer(lane, &service)
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        let proc = lane.pool.start(bearer.as_ref()).await.map_err(|e| {
            self.failures.fetch_add(1, Ordering::Relaxed);
            e.to_string()
        })?;
        let listed = self.refresh(&proc).await.map_err(|e| e.to_string());
        let protocol = self.config.protocol;
        let listed = match listed {
            Ok(()) if protocol != UpstreamProtocol::Session => {
                match self.speaks_modern(&proc.upstream).await {
                    Ok(false) if protocol == UpstreamProtocol::Stateless => Err(
                        "protocol = \"stateless\", but its server/discover does not offer 2026-07-28"
                            .to_owned(),
                    ),
                    Err(e) if protocol == UpstreamProtocol::Stateless => {
                        Err(format!("server/discover: {e}"))
                    }
                    _ => Ok(()),
                }
            }
            other => other,
        };
        proc.upstream.kill().await;
        drop(proc);
        listed?;
        if let Some(own) = self.lanes.own()
            && self.keeps_warm()
        {
            own.pool.fill_warm().await;
        }
        let tools = self.lists.cached("tools/list").unwrap_or_default();
        // Pins are reviewed at start: a definition changed since the last
        // run is recorded (and held back) before anyone lists.
        self.pinned(tools.as_ref().clone()).await;
        Ok(tools
            .iter()
            .filter_map(|t| t.get("name")?.as_str().map(str::to_owned))
            .collect())
    }

    /// Whether a process is kept warm for the next session: `per_session`
    /// with room for more than one, and not for an upstream that takes
    /// each caller's own token (a warm one would start without one, and
    /// its refusals would hold back every real start).
    fn keeps_warm(&self) -> bool {
        self.config.mode == PoolMode::PerSession
            && self.config.max_processes > 1
            && self.config.auth.is_none()
    }

    /// Processes running now.
    pub fn processes(&self) -> usize {
        self.lanes.all().map(|l| l.pool.running()).sum()
    }

    /// End stateless principals' processes idle past `idle_secs`.
    pub async fn reap_idle(&self) -> usize {
        let idle = Duration::from_secs(self.config.idle_secs);
        let mut reaped = 0;
        for lane in self.lanes.all() {
            reaped += lane.pool.reap("p:", idle).await;
        }
        reaped
    }

    /// The caller's token from `lane`'s identity provider, if the upstream
    /// takes one (counted by outcome).
    async fn bearer(
        &self,
        lane: &Lane,
        caller: &switchboard_runtime::Caller,
    ) -> Result<Option<Credential>, HandlerError> {
        self.token(lane, caller)
            .await
            .map_err(|e| identity_error(e).into())
    }

    /// [`StdioProvider::bearer`], the identity error as it is.
    async fn token(
        &self,
        lane: &Lane,
        caller: &switchboard_runtime::Caller,
    ) -> Result<Option<Credential>, switchboard_identity::IdentityError> {
        let Some(identity) = &lane.identity else {
            return Ok(None);
        };
        let who = Who {
            tenant: &caller.tenant,
            subject: &caller.subject,
            token: caller.token.as_deref(),
        };
        let observe = |outcome| {
            if let Some(o) = lane.pool.observer.get() {
                o.token(TokenEvent {
                    upstream: &self.config.name,
                    caller,
                    outcome,
                });
            }
        };
        match identity.bearer(who).await {
            Ok((token, outcome)) => {
                observe(outcome.as_str());
                Ok(Some(token))
            }
            Err(e) => {
                observe(e.kind());
                Err(e)
            }
        }
    }

    /// The lane of `caller`'s tenant, or the error saying the upstream
    /// needs credentials of the tenant's own.
    fn lane(&self, caller: &switchboard_runtime::Caller) -> Result<&Lane, HandlerError> {
        self.lanes.for_tenant(&caller.tenant).ok_or_else(|| {
            RpcError::new(
                ErrorCode::UNAUTHORIZED,
                format!(
                    "upstream {} needs credentials of tenant {}'s own, and none are configured",
                    self.config.name, caller.tenant
                ),
            )
            .into()
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.config.call_timeout_secs)
    }

    /// Whether the upstream serves 2026-07-28 requests: asked of `conn`
    /// (`server/discover`) the first time it matters — at the probe, or,
    /// if the upstream could not be probed then, at the first stateless
    /// client's request — and remembered once it answered.
    async fn speaks_modern(&self, conn: &Connection) -> Result<bool, UpstreamError> {
        if let Some(known) = self.era.known() {
            return Ok(known);
        }
        let modern = stateless::speaks_modern(conn, self.timeout()).await?;
        if self.era.set(modern) && self.config.protocol == UpstreamProtocol::Auto {
            let name = &self.config.name;
            if modern {
                tracing::info!(
                    upstream = %name,
                    "upstream offers 2026-07-28 (server/discover): a stateless client's requests go to it \
                     as they are, a session client's through a session with it"
                );
            } else {
                tracing::info!(
                    upstream = %name,
                    "upstream does not offer 2026-07-28 (server/discover): a stateless client's requests \
                     are bridged into a session with it"
                );
            }
        }
        Ok(modern)
    }

    /// Whether this call goes to the upstream as a 2026-07-28 request: a
    /// stateless client's does to an upstream that speaks 2026-07-28;
    /// otherwise what is the client's own exchange with Switchboard stays
    /// here.
    async fn goes_modern(&self, ctx: &RequestContext, conn: &Connection) -> bool {
        match self.config.protocol {
            UpstreamProtocol::Stateless => true,
            UpstreamProtocol::Session => false,
            UpstreamProtocol::Auto if !ctx.is_stateless() => false,
            UpstreamProtocol::Auto => self.speaks_modern(conn).await.unwrap_or(false),
        }
    }

    /// Every list, fresh from `proc`.
    async fn refresh(&self, proc: &Proc) -> Result<(), UpstreamError> {
        self.stale.store(false, Ordering::Relaxed);
        for method in LISTS {
            let stateless = self.config.protocol == UpstreamProtocol::Stateless;
            let items = fetch_all(proc, method, &self.prefix, self.timeout(), stateless).await?;
            self.lists.store(method, items);
        }
        Ok(())
    }

    /// The client capabilities a new process of this caller declares: a
    /// session's own (so the upstream asks only for what the client can
    /// do); for stateless callers, everything the gateway can pass on.
    fn capabilities_for<'a>(&self, ctx: &'a RequestContext) -> Option<&'a Value> {
        let session = ctx.caller().session.is_some();
        (session && self.config.mode == PoolMode::PerSession)
            .then(|| ctx.client_capabilities().unwrap_or(&Value::Null))
    }

    fn key(&self, ctx: &RequestContext) -> String {
        self.key_of(ctx.caller())
    }

    fn key_of(&self, caller: &switchboard_runtime::Caller) -> String {
        match (self.config.mode, &caller.session) {
            (PoolMode::Shared, _) => {
                let n = self.next_shared.fetch_add(1, Ordering::Relaxed);
                format!("shared:{}", n % self.config.processes.max(1))
            }
            (PoolMode::PerSession, Some(session)) => format!("s:{session}"),
            (PoolMode::PerSession, None) => format!("p:{}/{}", caller.tenant, caller.subject),
        }
    }

    /// Send one request to the caller's process, behind the breaker, with
    /// the process's own messages relayed to this call.
    async fn call(
        &self,
        method: &str,
        params: Value,
        ctx: &RequestContext,
    ) -> Result<Value, HandlerError> {
        self.call_once(method, params, ctx, false).await
    }

    /// [`StdioProvider::call`]; once the upstream refused the caller's
    /// token (401, 403), the identity told and the call made `again` with
    /// the token had then (the user asked to sign in first if need be).
    async fn call_once(
        &self,
        method: &str,
        mut params: Value,
        ctx: &RequestContext,
        again: bool,
    ) -> Result<Value, HandlerError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let lane = self.lane(ctx.caller())?;
        let attempt = lane.breaker.attempt().map_err(|wait| {
            self.failures.fetch_add(1, Ordering::Relaxed);
            HandlerError::from(RpcError::new(
                ErrorCode::SERVER_BUSY,
                format!(
                    "upstream {} is unavailable (circuit open); retry in {} s",
                    self.config.name,
                    wait.as_secs().max(1)
                ),
            ))
        })?;
        let bearer = self.bearer_asking(lane, ctx).await?;
        let original = (bearer.is_some() && !again).then(|| params.clone());
        let key = self.key(ctx);
        let owner = owner(ctx.caller(), bearer.as_ref());
        let got = lane.pool.get(&key, self.capabilities_for(ctx), owner).await;
        let proc = match got.and_then(|p| arm(&p, bearer.as_ref()).map(|()| p)) {
            Ok(p) => p,
            Err(e) => {
                attempt.failure();
                self.failures.fetch_add(1, Ordering::Relaxed);
                return Err(self.error(e));
            }
        };
        let modern = self.goes_modern(ctx, &proc.upstream).await;
        if modern {
            strip_retry(&mut params);
            if ctx.is_stateless() {
                stateless::name_client(&mut params);
            } else {
                let none = Value::Object(Map::new());
                stateless::as_stateless(&mut params, ctx.client_capabilities().unwrap_or(&none));
            }
        } else {
            strip_modern(&mut params);
        }
        if self.config.kind != UpstreamKind::Http {
            carry_traceparent(&mut params);
        }
        let serving = proc.relay.serve(ctx);
        let outcome = if modern {
            let schema = self.schema_of(method, &params);
            let call = &serving.call;
            stateless::exchange(
                &proc.upstream,
                call,
                method,
                params,
                schema.as_ref(),
                self.timeout(),
            )
            .await
        } else {
            let raw = crate::json::to_raw(&params);
            proc.upstream
                .request(method, Some(&raw), self.timeout())
                .await
        };
        let input_required = serving.call.input_required();
        let missing = serving.call.missing_capability();
        drop(serving);
        if let (
            Some(original),
            Err(UpstreamError::Unauthorized {
                status, challenge, ..
            }),
        ) = (original, &outcome)
        {
            // The upstream answered: not a failure of it.
            attempt.success();
            self.refused(lane, ctx, *status, challenge.as_deref())
                .await?;
            return Box::pin(self.call_once(method, original, ctx, true)).await;
        }
        match &outcome {
            Ok(_) | Err(UpstreamError::Rpc(_)) => attempt.success(),
            Err(_) => {
                attempt.failure();
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        // A stdio upstream's requests are matched to the call in flight by
        // time alone: one it sends unprompted (server-everything asks for
        // roots right after `initialized`) can land on a call that never
        // needed it. The client is told of a missing capability only when
        // the upstream's call failed without it.
        if let Some(capability) = missing.filter(|_| outcome.is_err()) {
            return Err(HandlerError::MissingCapability(capability));
        }
        if input_required {
            return Err(HandlerError::InputRequired);
        }
        match outcome {
            Ok(raw) => serde_json::from_str(raw.get())
                .map_err(|e| RpcError::internal(format!("upstream result: {e}")).into()),
            Err(e) => {
                if !proc.upstream.is_alive() {
                    lane.pool.forget(&key, &proc);
                }
                Err(self.error(e))
            }
        }
    }

    fn error(&self, e: UpstreamError) -> HandlerError {
        let name = &self.config.name;
        let reason = super::retry::reason(&e);
        let e = match e {
            UpstreamError::Rpc(e) => e,
            UpstreamError::Timeout => RpcError::new(
                ErrorCode::REQUEST_TIMEOUT,
                format!(
                    "upstream {name} did not answer within {} s",
                    self.config.call_timeout_secs
                ),
            ),
            UpstreamError::Exited(status) => RpcError::internal(format!(
                "upstream {name} exited ({status}); the next call starts a fresh process"
            )),
            other => RpcError::new(ErrorCode::SERVER_BUSY, format!("upstream {name}: {other}")),
        };
        match reason {
            Some(reason) => super::retry::tag(e, name, reason).into(),
            None => e.into(),
        }
    }

    /// The input schema of the tool a `tools/call` names (its upstream
    /// name in `params`).
    fn schema_of(&self, method: &str, params: &Value) -> Option<Value> {
        if method != "tools/call" {
            return None;
        }
        let name = format!("{}{}", self.prefix, params["name"].as_str()?);
        self.tool_definition(&name)?.get("inputSchema").cloned()
    }

    /// Strip this upstream's prefix from a merged name.
    fn own_name<'a>(&self, name: &'a str) -> &'a str {
        name.strip_prefix(self.prefix.as_str()).unwrap_or(name)
    }

    fn owns_name(&self, key: &str, name: &str) -> bool {
        if self.prefix.is_empty() {
            self.lists.has(key, name)
        } else {
            name.starts_with(&self.prefix)
        }
    }
}

/// The tenant a caller's new process counts against, and the caller's
/// token from the identity provider, if the upstream takes one.
fn owner<'a>(caller: &'a switchboard_runtime::Caller, bearer: Option<&'a Credential>) -> Owner<'a> {
    Owner {
        tenant: &caller.tenant,
        max: caller.max_upstream_processes,
        bearer,
    }
}

/// The JSON-RPC error for a token not had: a sign-in the user must make
/// first is a URL elicitation (-32042, its URL in `data`), a refusal
/// -32004, a provider that is down -32000.
pub(super) fn identity_error(e: switchboard_identity::IdentityError) -> RpcError {
    use switchboard_identity::IdentityError;
    let message = e.to_string();
    match e {
        IdentityError::SignInRequired { upstream, url, id } => RpcError::new(
            ErrorCode::URL_ELICITATION_REQUIRED,
            message,
        )
        .with_data(serde_json::json!({"elicitations": [{
            "mode": "url",
            "elicitationId": id,
            "url": url,
            "message": format!("Sign in to {upstream} so that Switchboard can use it as you."),
        }]})),
        e if e.is_unavailable() => RpcError::new(ErrorCode::SERVER_BUSY, message),
        _ => RpcError::new(ErrorCode::UNAUTHORIZED, message),
    }
}

/// Give `proc` (the caller's own upstream session) the caller's current
/// token.
fn arm(proc: &Proc, bearer: Option<&Credential>) -> Result<(), UpstreamError> {
    match bearer {
        Some(credential) => proc.upstream.set_bearer(credential),
        None => Ok(()),
    }
}

/// Take out what belongs to the client's 2026-07-28 exchange with
/// Switchboard, not to the upstream's session: the retry's
/// `inputResponses` and sealed `requestState` (Switchboard answers the
/// upstream's requests from them itself) and the per-request
/// `io.modelcontextprotocol/…` keys of `_meta`.
fn strip_modern(v: &mut Value) {
    strip_retry(v);
    if let Some(meta) = v.get_mut("_meta").and_then(Value::as_object_mut) {
        meta.retain(|k, _| !k.starts_with("io.modelcontextprotocol/"));
    }
}

/// Put the trace context of the current span into `params._meta.traceparent`
/// (a stdio upstream has no headers); params that are not an object, or
/// whose `_meta` is not one, are left alone.
fn carry_traceparent(v: &mut Value) {
    let Some(tp) = switchboard_telemetry::current_traceparent() else {
        return;
    };
    let Some(map) = v.as_object_mut() else { return };
    let meta = map
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert("traceparent".to_owned(), Value::String(tp.to_string()));
    }
}

/// Take out a retry's `inputResponses` and `requestState`: they answered
/// Switchboard's own `input_required` result, not the upstream's.
fn strip_retry(v: &mut Value) {
    if let Some(map) = v.as_object_mut() {
        map.remove("inputResponses");
        map.remove("requestState");
    }
}

/// `params` with the string at `path` (e.g. `["name"]`, `["ref", "name"]`)
/// passed through `f`; everything else kept.
fn rewrite(
    params: Option<&RawValue>,
    path: &[&str],
    f: impl FnOnce(&str) -> String,
) -> Result<Value, HandlerError> {
    let mut v: Value = match params {
        Some(p) => serde_json::from_str(p.get())
            .map_err(|e| RpcError::invalid_params(format!("params: {e}")))?,
        None => Value::Object(Map::new()),
    };
    let mut at = &mut v;
    for part in path {
        at = &mut at[*part];
    }
    if let Some(s) = at.as_str() {
        *at = Value::String(f(s));
    }
    Ok(v)
}

#[async_trait]
impl Provider for StdioProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn owns_tool(&self, tool: &str) -> bool {
        self.owns_name("tools", tool)
    }

    fn tool_definition(&self, name: &str) -> Option<Value> {
        self.lists
            .cached("tools/list")?
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
    }

    fn has_tool_definition(&self, name: &str) -> bool {
        self.lists.has_cached("tools/list", name)
    }

    fn owns_prompt(&self, name: &str) -> bool {
        self.owns_name("prompts", name)
    }

    fn owns_resource(&self, uri: &str) -> bool {
        self.lists.has_resource(uri)
    }

    async fn list_tools(&self, ctx: &RequestContext) -> Result<Vec<Value>, String> {
        self.list("tools/list", ctx).await
    }

    async fn list(&self, method: &str, ctx: &RequestContext) -> Result<Vec<Value>, String> {
        // A tenant the upstream needs credentials from, and has none of,
        // sees none of its tools.
        let Some(lane) = self.lanes.for_tenant(&ctx.caller().tenant) else {
            return Ok(Vec::new());
        };
        if lane.breaker.state() == BreakerState::Open {
            return Err("circuit open".into());
        }
        if self.stale.load(Ordering::Relaxed) {
            self.lists.clear();
        }
        let items = match self.lists.cached(method) {
            Some(items) => items.as_ref().clone(),
            None => {
                self.fetch_lists(method, ctx).await?;
                self.lists
                    .cached(method)
                    .map(|i| i.as_ref().clone())
                    .unwrap_or_default()
            }
        };
        if method == "tools/list" {
            return Ok(self.pinned(items).await);
        }
        Ok(items)
    }

    async fn call_tool(
        &self,
        tool: &str,
        params: Option<&RawValue>,
        ctx: RequestContext,
    ) -> Result<Value, HandlerError> {
        self.check_pinned(tool, &ctx).await?;
        let own = self.own_name(tool).to_owned();
        let params = rewrite(params, &["name"], |_| own)?;
        self.guarded("tools/call", params, &ctx).await
    }

    async fn forward(
        &self,
        method: &str,
        params: Option<&RawValue>,
        ctx: RequestContext,
    ) -> Result<Value, HandlerError> {
        let strip = |n: &str| self.own_name(n).to_owned();
        let params = match method {
            "prompts/get" => rewrite(params, &["name"], strip)?,
            "completion/complete" => rewrite(params, &["ref", "name"], strip)?,
            _ => rewrite(params, &[], |s| s.to_owned())?,
        };
        self.guarded(method, params, &ctx).await
    }

    fn observe(&self, observer: Arc<dyn switchboard_runtime::UpstreamObserver>) {
        // The first app built on this provider keeps it.
        for lane in self.lanes.all() {
            let _ = lane.pool.observer.set(observer.clone());
        }
        if let Some(pins) = &self.pins {
            let _ = pins.observer.set(observer);
        }
    }

    fn health(&self) -> ProviderHealth {
        ProviderHealth {
            processes: self.processes(),
            breaker: self.lanes.breaker_state().as_str(),
            calls: self.calls.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            kind: match self.config.kind {
                UpstreamKind::Http => "http",
                UpstreamKind::Stdio => "stdio",
                UpstreamKind::Builtin => "builtin",
            },
            prefix: self.prefix.clone(),
            tools: self.lists.cached("tools/list").map_or(0, |t| t.len()),
            ..self.pool_health()
        }
    }

    fn forget_caller(&self, tenant: &str, subject: &str) {
        for identity in self.lanes.all().filter_map(|l| l.identity.as_ref()) {
            identity.forget(tenant, subject);
        }
    }

    fn per_session_state(&self) -> bool {
        self.config.kind == UpstreamKind::Stdio && self.config.mode == PoolMode::PerSession
    }

    fn session_processes(&self, session: &str) -> Vec<u32> {
        if self.config.mode != PoolMode::PerSession {
            return Vec::new();
        }
        let key = format!("s:{session}");
        self.lanes.all().filter_map(|l| l.pool.pid(&key)).collect()
    }

    async fn subscribe(
        &self,
        uri: &str,
        on: bool,
        caller: &switchboard_runtime::Caller,
    ) -> Result<(), String> {
        if self.config.protocol == UpstreamProtocol::Stateless {
            return Err(format!(
                "upstream {} speaks only 2026-07-28: resource subscriptions are not carried to it",
                self.config.name
            ));
        }
        let method = if on {
            "resources/subscribe"
        } else {
            "resources/unsubscribe"
        };
        let params = RawValue::from_string(serde_json::json!({"uri": uri}).to_string())
            .map_err(|e| e.to_string())?;
        let lane = self.lanes.for_tenant(&caller.tenant).ok_or_else(|| {
            format!(
                "upstream {} needs credentials of tenant {}'s own",
                self.config.name, caller.tenant
            )
        })?;
        let bearer = self.bearer(lane, caller).await.map_err(|e| e.to_string())?;
        let proc = lane
            .pool
            .get(&self.key_of(caller), None, owner(caller, bearer.as_ref()))
            .await
            .map_err(|e| e.to_string())?;
        arm(&proc, bearer.as_ref()).map_err(|e| e.to_string())?;
        proc.upstream
            .request(method, Some(&params), self.timeout())
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn session_ended(&self, session: &str) {
        if self.config.mode == PoolMode::PerSession {
            let key = format!("s:{session}");
            for lane in self.lanes.all() {
                lane.pool.end(&key).await;
            }
        }
    }

    async fn reap_idle(&self) {
        StdioProvider::reap_idle(self).await;
    }

    async fn shutdown(&self) {
        for lane in self.lanes.all() {
            lane.pool.close().await;
        }
        tracing::info!(upstream = %self.config.name, "upstream removed: its processes ended");
    }
}
