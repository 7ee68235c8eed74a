//! The `Sessions` service: a session era's durable records (the session
//! store), their event logs, this node's live sessions, the bus to the
//! other nodes; ending a session (everywhere, or what this node holds of
//! it), what ends its streams, and publishing to the other nodes what they
//! must deliver (answers, cancellations, stream announcements).

use std::sync::Arc;

use switchboard_config::{Config, Live};
use switchboard_http::Lifecycle;
use switchboard_http::sse::StreamEnd;
use switchboard_observe::metrics::Metrics;
use switchboard_proto::RequestId;
use switchboard_runtime::Catalog;
use switchboard_store::{
    BusMessage, EventLog, Expiry, SessionBus, SessionStore, StoreError, now_ms,
};
use switchboard_tenancy::Gate;
use switchboard_tenancy::capacity::{identity_key, tenant_key};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::live::{Answer, LiveSession};
use crate::registry::Registry;

/// The sessions of this node and the stores they live in. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sessions(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: Live<Config>,
    catalog: Arc<Catalog>,
    store: Arc<dyn SessionStore>,
    event_log: Arc<dyn EventLog>,
    registry: Registry,
    bus: Option<Arc<dyn SessionBus>>,
    gate: Gate,
    metrics: Arc<Metrics>,
    lifecycle: Lifecycle,
}

/// What [`Sessions`] is built from.
#[derive(Debug)]
pub struct Parts {
    /// The configuration in effect (a reload swaps it).
    pub config: Live<Config>,
    /// The catalog sessions call (told when a session ends).
    pub catalog: Arc<Catalog>,
    /// The session records.
    pub store: Arc<dyn SessionStore>,
    /// The sessions' event logs.
    pub event_log: Arc<dyn EventLog>,
    /// The bus to the other nodes (none: a single node).
    pub bus: Option<Arc<dyn SessionBus>>,
    /// The gate (quota counts and refusals, security events).
    pub gate: Gate,
    /// Where sessions are counted.
    pub metrics: Arc<Metrics>,
    /// The node's shutdown token and draining flag.
    pub lifecycle: Lifecycle,
}

impl Sessions {
    /// The sessions of a node, from `parts`, none live yet.
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(Inner {
            config: parts.config,
            catalog: parts.catalog,
            store: parts.store,
            event_log: parts.event_log,
            registry: Registry::default(),
            bus: parts.bus,
            gate: parts.gate,
            metrics: parts.metrics,
            lifecycle: parts.lifecycle,
        }))
    }

    /// The session store.
    pub fn store(&self) -> &dyn SessionStore {
        &*self.0.store
    }

    /// The sessions' event logs.
    pub fn event_log(&self) -> &dyn EventLog {
        &*self.0.event_log
    }

    /// The live sessions of this node.
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }

    /// The bus to the other nodes, if this node is one of several.
    pub fn bus(&self) -> Option<&Arc<dyn SessionBus>> {
        self.0.bus.as_ref()
    }

    pub(crate) fn config(&self) -> Arc<Config> {
        self.0.config.load()
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.0.catalog
    }

    pub(crate) fn gate(&self) -> &Gate {
        &self.0.gate
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// How long the reaper waits between sweeps: a tenth of the shortest
    /// session limit, within 1 s .. 30 s.
    pub fn reap_period(&self) -> std::time::Duration {
        let c = self.config();
        let shortest = c
            .session_idle_secs
            .min(c.session_max_lifetime_secs)
            .min(c.session_init_timeout_secs);
        std::time::Duration::from_millis((shortest * 100).clamp(1000, 30_000))
    }

    /// How long a [tethered](switchboard_store::SessionRecord::tethered)
    /// session outlives its last renewal: three sweeps, and at least 30 s,
    /// so a node briefly stopped (or the store briefly away) keeps its
    /// sessions.
    pub fn tether_grace(&self) -> std::time::Duration {
        (self.reap_period() * 3).max(std::time::Duration::from_secs(30))
    }

    /// Renew, then end, the sessions idle too long, alive too long, never
    /// initialized, or tethered to a node that stopped renewing them (the
    /// store selects them); how many ended, or `None` if the store could
    /// not say.
    pub async fn reap(&self) -> Option<usize> {
        self.renew_tethered().await;
        let now = now_ms();
        let c = self.config();
        let grace = u64::try_from(self.tether_grace().as_millis()).unwrap_or(u64::MAX);
        let rule = Expiry {
            idle_before_ms: now.saturating_sub(c.session_idle_secs * 1000),
            created_before_ms: now.saturating_sub(c.session_max_lifetime_secs * 1000),
            uninitialized_before_ms: now.saturating_sub(c.session_init_timeout_secs * 1000),
            untethered_before_ms: now.saturating_sub(grace),
        };
        let expired = match self.store().expire(rule).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "session sweep failed");
                return None;
            }
        };
        for id in &expired {
            if let Err(e) = self.end_session(id).await {
                tracing::warn!(error = %e, "ending an expired session failed");
            }
        }
        self.metrics().sessions.expired(expired.len());
        if self.bus().is_some() {
            self.reconcile().await;
        }
        Some(expired.len())
    }

    /// Renew the tethered sessions this node holds (their streams are
    /// open here), in one round trip per thousand.
    async fn renew_tethered(&self) {
        let ids: Vec<String> = self
            .0
            .registry
            .all()
            .iter()
            .filter(|l| l.is_tethered())
            .map(|l| l.id.to_string())
            .collect();
        let now = now_ms();
        for chunk in ids.chunks(1000) {
            if let Err(e) = self.store().renew(chunk, now).await {
                tracing::warn!(error = %e, "renewing this node's HTTP+SSE sessions failed");
                return;
            }
        }
    }

    /// On a cluster: close what this node holds of sessions the store no
    /// longer has. Their end reaches the other nodes on the bus, which is
    /// at most once — a message published while Redis was away, or sent
    /// while this node was resubscribing, is lost — so each sweep checks,
    /// in one round trip per thousand sessions.
    async fn reconcile(&self) {
        let ids: Vec<String> = self
            .0
            .registry
            .all()
            .iter()
            .map(|l| l.id.to_string())
            .collect();
        for chunk in ids.chunks(1000) {
            let held = match self.store().held(chunk).await {
                Ok(held) => held,
                Err(e) => {
                    tracing::debug!(error = %e, "checking live sessions against the store failed");
                    return;
                }
            };
            for (id, held) in chunk.iter().zip(held) {
                if !held {
                    tracing::info!(session = %switchboard_observe::ids::short(id), "the session ended elsewhere: closed here");
                    self.end_live(id);
                }
            }
        }
    }

    pub(crate) fn lifecycle(&self) -> &Lifecycle {
        &self.0.lifecycle
    }

    /// One store call on a request's path: a `store` span around it, and
    /// counted in `switchboard_store_errors_total` if it fails.
    pub async fn store_call<T>(
        &self,
        call: &'static str,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let span = tracing::debug_span!(target: switchboard_telemetry::TARGET, "store", call);
        let result = fut.instrument(span).await;
        if result.is_err() {
            self.metrics().node.store_failed(call);
        }
        result
    }

    /// End a session everywhere: its live streams and handlers on this node
    /// (and on the other nodes, told on the bus), its record and its event
    /// log. Returns whether the store held it.
    pub async fn end_session(&self, id: &str) -> Result<bool, StoreError> {
        self.end_live(id);
        if let Some(bus) = self.bus() {
            bus.publish(BusMessage::Ended {
                session: id.to_owned(),
            });
        }
        let existed = self.0.store.delete(id).await?;
        self.0.event_log.drop_session(id).await?;
        self.0.catalog.session_ended(id).await;
        Ok(existed)
    }

    /// Close what this node holds of a session: its streams, handlers,
    /// waiting requests, and its place in the quotas.
    pub fn end_live(&self, id: &str) {
        if let Some(live) = self.0.registry.remove(id) {
            live.close();
            if let Some((identity, tenant)) = live.owner() {
                let capacity = self.0.gate.capacity();
                capacity.closed(&identity_key(identity));
                capacity.closed(&tenant_key(tenant));
                self.0.metrics.tenants.sessions(tenant).dec();
            }
            self.uncount_record(&live);
            self.0.metrics.sessions.ended(live.age());
        }
    }

    /// What ends a stream of this session.
    pub fn stream_end(&self, live: &LiveSession) -> StreamEnd {
        let mut end = self.stream_end_on(live.closed.clone());
        end.session_streams = Some(live.open_streams.clone());
        end
    }

    /// What ends a request stream: its response (the channel closes), or
    /// its session ending — not shutdown: a call in flight at SIGTERM runs
    /// to its response within `shutdown_grace_secs`, as a JSON reply does.
    pub fn request_stream_end(&self, live: &LiveSession) -> StreamEnd {
        let mut end = self.stream_end(live);
        end.shutdown = CancellationToken::new();
        end
    }

    /// What ends a stream: `token`, or the server shutting down.
    pub fn stream_end_on(&self, token: CancellationToken) -> StreamEnd {
        StreamEnd::new(
            token,
            self.0.lifecycle.shutdown().clone(),
            self.0.metrics.sessions.streams.clone(),
        )
    }

    /// Hand a client's answer that found no waiting handler here to the
    /// other nodes.
    pub fn route_answer(&self, live: &LiveSession, id: &RequestId, outcome: Answer) {
        let Some(bus) = self.bus() else {
            return;
        };
        let (ok, body) = match outcome {
            Ok(r) => (true, r),
            Err(e) => (false, e),
        };
        bus.publish(BusMessage::Answer {
            session: live.id.to_string(),
            id: id.as_json().to_owned(),
            ok,
            body: body.get().to_owned(),
        });
    }

    /// Hand a cancellation for a request not running here to the other nodes.
    pub fn route_cancel(&self, live: &LiveSession, id: &RequestId) {
        if let Some(bus) = self.bus() {
            bus.publish(BusMessage::Cancel {
                session: live.id.to_string(),
                id: id.as_json().to_owned(),
            });
        }
    }

    /// Tell the other nodes that request stream `stream` has events no
    /// connection here took; `end`: it is over.
    pub fn route_stream(&self, live: &LiveSession, stream: u64, end: bool) {
        if let Some(bus) = self.bus() {
            bus.publish(BusMessage::Stream {
                session: live.id.to_string(),
                stream,
                end,
            });
        }
    }
}
