//! The way into an upstream for a client's request: the upstream's own
//! limits first, one retry of an idempotent request whose connection went
//! down under it, and the request's latency and error reported to the
//! observer. Also the pool's side of the provider's health.

use std::sync::atomic::Ordering;
use std::time::Instant;

use serde_json::Value;
use switchboard_runtime::{HandlerError, ProviderHealth, RequestContext};
use tracing::Instrument;

use super::super::config::PoolMode;
use super::super::retry;
use super::{StdioProvider, arm, owner};

impl StdioProvider {
    /// Sessions and principals waiting for a process slot now.
    pub fn waiting(&self) -> usize {
        // The lanes share the count.
        self.lanes.probing().pool.waiting()
    }

    /// Requests in flight to the upstream now, if it has a
    /// `max_concurrency`.
    pub fn in_flight(&self) -> Option<usize> {
        self.limits.in_flight()
    }

    /// Send a client's request, within the upstream's limits; a list or
    /// read whose process died under it is sent once more.
    pub(super) async fn guarded(
        &self,
        method: &str,
        params: Value,
        ctx: &RequestContext,
    ) -> Result<Value, HandlerError> {
        let span = tracing::debug_span!(
            target: switchboard_telemetry::TARGET,
            "upstream",
            otel.kind = "client",
            upstream = %self.config.name,
            method,
            error = tracing::field::Empty,
        );
        // Boxed before it is wrapped: the call's future is large, and each
        // wrapping moved it whole (`memcpy`, about 1.5k instructions a
        // relayed call).
        let outcome = Box::pin(self.limited(method, params, ctx))
            .instrument(span.clone())
            .await;
        if outcome.is_err() {
            span.record("error", true);
        }
        outcome
    }

    async fn limited(
        &self,
        method: &str,
        params: Value,
        ctx: &RequestContext,
    ) -> Result<Value, HandlerError> {
        let start = Instant::now();
        let outcome = match self.limits.enter(ctx.caller()).await {
            Err(e) => Err(HandlerError::from(e)),
            Ok(_admitted) if retry::idempotent(method) => {
                match self.call(method, params.clone(), ctx).await {
                    Err(e) if retry::went_down(&e, &self.config.name) => {
                        tracing::info!(upstream = %self.config.name, method, "connection lost under an idempotent request: sent once more");
                        self.call(method, params, ctx).await
                    }
                    other => other,
                }
            }
            Ok(_admitted) => self.call(method, params, ctx).await,
        };
        self.report(method, start, outcome.as_ref().err());
        outcome
    }

    /// Fetch every list from the caller's process (within the limits),
    /// once more from a fresh process if the first one died under it.
    pub(super) async fn fetch_lists(
        &self,
        method: &str,
        ctx: &RequestContext,
    ) -> Result<(), String> {
        let start = Instant::now();
        let outcome = self.try_fetch_lists(ctx).await;
        let reason = outcome.as_ref().err().map(|(reason, _)| *reason);
        if let Some(o) = self.lanes.probing().pool.observer.get() {
            o.request(&self.config.name, method, start.elapsed(), reason);
        }
        outcome.map_err(|(_, message)| message)
    }

    async fn try_fetch_lists(&self, ctx: &RequestContext) -> Result<(), (&'static str, String)> {
        let _admitted = self
            .limits
            .enter(ctx.caller())
            .await
            .map_err(|e| ("limited", e.message))?;
        let lane = self
            .lane(ctx.caller())
            .map_err(|e| ("unauthorized", e.to_string()))?;
        let bearer = self
            .bearer(lane, ctx.caller())
            .await
            .map_err(|e| ("unauthorized", e.to_string()))?;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let key = self.key(ctx);
            let proc = lane
                .pool
                .get(
                    &key,
                    self.capabilities_for(ctx),
                    owner(ctx.caller(), bearer.as_ref()),
                )
                .await
                .and_then(|p| arm(&p, bearer.as_ref()).map(|()| p))
                .map_err(|e| (retry::reason(&e).unwrap_or("upstream"), e.to_string()))?;
            match self.refresh(&proc).await {
                Ok(()) => return Ok(()),
                Err(e) if attempts == 1 && retry::transport(&e) => {
                    tracing::info!(upstream = %self.config.name, "connection lost under a list: sent once more");
                    if !proc.upstream.is_alive() {
                        lane.pool.forget(&key, &proc);
                    }
                }
                Err(e) => {
                    if !proc.upstream.is_alive() {
                        lane.pool.forget(&key, &proc);
                    }
                    return Err((retry::reason(&e).unwrap_or("upstream"), e.to_string()));
                }
            }
        }
    }

    fn report(&self, method: &str, start: Instant, error: Option<&HandlerError>) {
        let Some(o) = self.lanes.probing().pool.observer.get() else {
            return;
        };
        let reason = match error {
            None | Some(HandlerError::InputRequired) => None,
            Some(HandlerError::Cancelled) => Some("cancelled"),
            Some(e) => Some(retry::label(e, &self.config.name)),
        };
        o.request(&self.config.name, method, start.elapsed(), reason);
    }

    /// Start supervising the pool: dead `shared` processes restarted, a
    /// warm process kept (`per_session` with room for more than one).
    pub(super) fn supervise(&self) {
        let shared = match self.config.mode {
            PoolMode::Shared => (0..self.config.processes)
                .map(|n| format!("shared:{n}"))
                .collect(),
            PoolMode::PerSession => Vec::new(),
        };
        let warm = self.keeps_warm();
        if let Some(own) = self.lanes.own() {
            own.pool.supervise(shared.clone(), warm);
        }
        // Tenants' lanes start lazily, keep no warm process, and restart
        // only shared processes that died.
        for lane in self.lanes.tenant_lanes() {
            lane.pool.supervise(shared.clone(), false);
        }
    }

    /// The pool's numbers for [`ProviderHealth`].
    pub(super) fn pool_health(&self) -> ProviderHealth {
        let mut health = ProviderHealth::default();
        for lane in self.lanes.all() {
            let counts = &lane.pool.counts;
            health.starting += counts.starting.load(Ordering::Relaxed);
            health.idle += lane.pool.idle();
            health.restarts += counts.restarts.load(Ordering::Relaxed);
            health.kills += counts.kills.load(Ordering::Relaxed);
        }
        health
    }
}
