//! A stdio upstream as a [`Provider`]: its tools in the merged namespace,
//! each call run in the caller's own process (`per_session`) or a shared
//! one.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use switchboard_limits::{Breaker, BreakerConfig};
use switchboard_proto::{ErrorCode, RpcError};
use switchboard_runtime::{HandlerError, Provider, ProviderHealth, RequestContext};

use super::config::{PoolMode, UpstreamConfig};
use super::pool::{Pool, Proc};
use crate::{StdioSpec, UpstreamError};

/// One stdio upstream behind the gateway.
#[derive(Debug)]
pub struct StdioProvider {
    config: UpstreamConfig,
    prefix: String,
    pool: Pool,
    /// Its tools (names prefixed), from the last listing.
    tools: std::sync::RwLock<Option<Arc<Vec<Value>>>>,
    names: std::sync::RwLock<HashSet<String>>,
    stale: Arc<AtomicBool>,
    next_shared: AtomicUsize,
    breaker: Breaker,
    calls: AtomicU64,
    failures: AtomicU64,
}

impl StdioProvider {
    /// A provider for `config` (a validated stdio entry). Nothing starts
    /// until [`StdioProvider::probe`] or the first call.
    pub fn new(config: UpstreamConfig) -> Self {
        let mut spec = StdioSpec::new(&config.name, &config.command);
        spec.args = config.args.clone();
        spec.env = config.env.clone().into_iter().collect();
        spec.cwd = config.cwd.clone();
        spec.max_line_bytes = config.max_line_bytes;
        let max = match config.mode {
            PoolMode::PerSession => config.max_processes,
            PoolMode::Shared => config.processes,
        };
        let breaker = Breaker::new(BreakerConfig {
            failures: config.breaker_failures.max(1),
            cool_down: Duration::from_secs(config.breaker_cool_down_secs),
            ..BreakerConfig::default()
        });
        Self {
            prefix: config.prefix(),
            pool: Pool::new(spec, max, Duration::from_millis(config.pool_wait_ms)),
            breaker,
            config,
            tools: Default::default(),
            names: Default::default(),
            stale: Arc::default(),
            next_shared: AtomicUsize::new(0),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// Start a process, list its tools (so names are known and collisions
    /// show at start-up), and keep it warm for the first session.
    pub async fn probe(&self) -> Result<Vec<String>, String> {
        let proc = self.pool.start().await.map_err(|e| e.to_string())?;
        let tools = self.fetch_tools(&proc).await.map_err(|e| e.to_string());
        proc.upstream.kill().await;
        drop(proc);
        let tools = tools?;
        // A warm process for the first session, when the pool has room for
        // it besides one session's.
        if self.config.mode == PoolMode::PerSession && self.config.max_processes > 1 {
            self.pool.fill_warm().await;
        }
        Ok(tools
            .iter()
            .filter_map(|t| t.get("name")?.as_str().map(str::to_owned))
            .collect())
    }

    /// Processes running now.
    pub fn processes(&self) -> usize {
        self.pool.running()
    }

    /// End stateless principals' processes idle past `idle_secs`.
    pub async fn reap_idle(&self) -> usize {
        let idle = Duration::from_secs(self.config.idle_secs);
        self.pool.reap("p:", idle).await
    }

    fn key(&self, ctx: &RequestContext) -> String {
        let caller = ctx.caller();
        match (self.config.mode, &caller.session) {
            (PoolMode::Shared, _) => {
                let n = self.next_shared.fetch_add(1, Ordering::Relaxed);
                format!("shared:{}", n % self.config.processes.max(1))
            }
            (PoolMode::PerSession, Some(session)) => format!("s:{session}"),
            (PoolMode::PerSession, None) => format!("p:{}/{}", caller.tenant, caller.subject),
        }
    }

    async fn process(&self, ctx: &RequestContext) -> Result<(String, Arc<Proc>), HandlerError> {
        let key = self.key(ctx);
        let proc = self.pool.get(&key).await.map_err(|e| self.error(e))?;
        Ok((key, proc))
    }

    /// The upstream's tools, every page, with names prefixed.
    async fn fetch_tools(&self, proc: &Proc) -> Result<Vec<Value>, UpstreamError> {
        let timeout = Duration::from_secs(self.config.call_timeout_secs);
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let params = match &cursor {
                Some(c) => serde_json::json!({"cursor": c}).to_string(),
                None => "{}".to_owned(),
            };
            let params = RawValue::from_string(params).map_err(|_| UpstreamError::Closed)?;
            let page = proc
                .upstream
                .request("tools/list", Some(&params), timeout)
                .await?;
            let page: Value = serde_json::from_str(page.get()).unwrap_or(Value::Null);
            for mut tool in page["tools"].as_array().cloned().unwrap_or_default() {
                if let Some(name) = tool.get("name").and_then(Value::as_str) {
                    tool["name"] = Value::String(format!("{}{name}", self.prefix));
                    out.push(tool);
                }
            }
            cursor = page["nextCursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        let names = out
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect();
        *self.names.write().unwrap_or_else(|e| e.into_inner()) = names;
        *self.tools.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(out.clone()));
        self.stale.store(false, Ordering::Relaxed);
        Ok(out)
    }

    fn error(&self, e: UpstreamError) -> HandlerError {
        let name = &self.config.name;
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
        e.into()
    }
}

/// `params` with `name` replaced by the upstream's own name for the tool.
fn renamed(params: Option<&RawValue>, name: &str) -> Result<Box<RawValue>, HandlerError> {
    let mut map: Map<String, Value> = params
        .map(|p| serde_json::from_str(p.get()))
        .transpose()
        .map_err(|e| RpcError::invalid_params(format!("tools/call: {e}")))?
        .unwrap_or_default();
    map.insert("name".into(), Value::String(name.to_owned()));
    let text = serde_json::to_string(&map).map_err(|e| RpcError::internal(e.to_string()))?;
    RawValue::from_string(text).map_err(|e| RpcError::internal(e.to_string()).into())
}

#[async_trait]
impl Provider for StdioProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn owns_tool(&self, tool: &str) -> bool {
        if self.prefix.is_empty() {
            self.names
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(tool)
        } else {
            tool.starts_with(&self.prefix)
        }
    }

    async fn list_tools(&self, ctx: &RequestContext) -> Result<Vec<Value>, String> {
        if self.breaker.state() == switchboard_limits::BreakerState::Open {
            return Err("circuit open".into());
        }
        if !self.stale.load(Ordering::Relaxed)
            && let Some(tools) = self.tools.read().unwrap_or_else(|e| e.into_inner()).clone()
        {
            return Ok(tools.as_ref().clone());
        }
        let (_, proc) = self.process(ctx).await.map_err(|e| format!("{e:?}"))?;
        self.fetch_tools(&proc).await.map_err(|e| e.to_string())
    }

    async fn call_tool(
        &self,
        tool: &str,
        params: Option<&RawValue>,
        ctx: RequestContext,
    ) -> Result<Value, HandlerError> {
        let own_name = tool.strip_prefix(self.prefix.as_str()).unwrap_or(tool);
        let params = renamed(params, own_name)?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let attempt = self.breaker.attempt().map_err(|wait| {
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
        let (key, proc) = match self.process(&ctx).await {
            Ok(found) => found,
            Err(e) => {
                attempt.failure();
                self.failures.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let serving = proc.relay.serve(&ctx);
        let timeout = Duration::from_secs(self.config.call_timeout_secs);
        let outcome = proc
            .upstream
            .request("tools/call", Some(&params), timeout)
            .await;
        let input_required = serving.call.input_required();
        drop(serving);
        match &outcome {
            Ok(_) | Err(UpstreamError::Rpc(_)) => attempt.success(),
            Err(_) => {
                attempt.failure();
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        if input_required {
            return Err(HandlerError::InputRequired);
        }
        match outcome {
            Ok(raw) => serde_json::from_str(raw.get())
                .map_err(|e| RpcError::internal(format!("upstream result: {e}")).into()),
            Err(e) => {
                if !proc.upstream.is_alive() {
                    self.pool.forget(&key, &proc);
                }
                Err(self.error(e))
            }
        }
    }

    fn health(&self) -> ProviderHealth {
        ProviderHealth {
            processes: self.pool.running(),
            breaker: self.breaker.state().as_str(),
            calls: self.calls.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }

    async fn session_ended(&self, session: &str) {
        if self.config.mode == PoolMode::PerSession {
            self.pool.end(&format!("s:{session}")).await;
        }
    }
}
