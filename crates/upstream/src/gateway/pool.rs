//! The processes of one stdio upstream: one per key (a session, a
//! stateless principal, or a shared slot), at most `max_processes`, started
//! once however many calls race for them, replaced when they die, and one
//! kept warm so a new session does not wait for a cold start.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use super::connection::{Connection, Starter};
use super::relay::Relay;
use crate::UpstreamError;

/// Upstream processes per tenant, across every upstream (shared by all
/// providers of one server), for tenants' `max_upstream_processes`.
#[derive(Debug, Clone, Default)]
pub struct TenantProcesses(Arc<Mutex<HashMap<String, usize>>>);

impl TenantProcesses {
    /// Processes `tenant` holds now.
    pub fn count(&self, tenant: &str) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .copied()
            .unwrap_or(0)
    }

    /// Count one more for `tenant` unless it is at `max`.
    fn take(&self, tenant: &str, max: Option<usize>) -> Option<TenantSlot> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(tenant.to_owned()).or_insert(0);
        if max.is_some_and(|m| *n >= m) {
            return None;
        }
        *n += 1;
        Some(TenantSlot {
            counts: self.clone(),
            tenant: tenant.to_owned(),
        })
    }
}

/// One process counted against a tenant, given back on drop.
#[derive(Debug)]
struct TenantSlot {
    counts: TenantProcesses,
    tenant: String,
}

impl Drop for TenantSlot {
    fn drop(&mut self) {
        let mut map = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.tenant);
            }
        }
    }
}

/// Whose process is being started: the tenant and its cap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub(crate) tenant: &'a str,
    pub(crate) max: Option<usize>,
}

/// One running upstream process and where its messages go.
#[derive(Debug)]
pub(crate) struct Proc {
    pub(crate) upstream: Connection,
    pub(crate) relay: Arc<Relay>,
    _slot: OwnedSemaphorePermit,
    _tenant: Option<TenantSlot>,
    last_used: AtomicU64,
}

impl Proc {
    fn touch(&self, base: Instant) {
        self.last_used
            .store(base.elapsed().as_secs(), Ordering::Relaxed);
    }
}

type Cell = Arc<OnceCell<Arc<Proc>>>;

/// The processes of one upstream, by key.
#[derive(Debug)]
pub(crate) struct Pool {
    spec: Starter,
    slots: Arc<Semaphore>,
    wait: Duration,
    procs: Mutex<HashMap<String, Cell>>,
    warm: tokio::sync::Mutex<Option<Arc<Proc>>>,
    base: Instant,
    /// Set by any process announcing a list change.
    stale: Arc<std::sync::atomic::AtomicBool>,
    bus: Option<Arc<dyn switchboard_runtime::EventBus>>,
    tenants: TenantProcesses,
}

/// The client capabilities Switchboard declares to its upstreams: all it can
/// pass through (each request is checked against the real client's).
pub(crate) fn capabilities() -> serde_json::Value {
    json!({"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {"listChanged": true}})
}

fn client_info() -> serde_json::Value {
    json!({"name": "switchboard", "version": env!("CARGO_PKG_VERSION")})
}

impl Pool {
    pub(crate) fn new(
        spec: Starter,
        max_processes: usize,
        wait: Duration,
        stale: Arc<std::sync::atomic::AtomicBool>,
        bus: Option<Arc<dyn switchboard_runtime::EventBus>>,
        tenants: TenantProcesses,
    ) -> Self {
        Self {
            stale,
            bus,
            tenants,
            spec,
            slots: Arc::new(Semaphore::new(max_processes)),
            wait,
            procs: Mutex::default(),
            warm: tokio::sync::Mutex::default(),
            base: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cell>> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The process of `key`, started if it has none (or its last one died).
    /// A new process declares `capabilities` (None: everything the gateway
    /// can pass on, and a warm process may serve).
    pub(crate) async fn get(
        &self,
        key: &str,
        capabilities: Option<serde_json::Value>,
        owner: Owner<'_>,
    ) -> Result<Arc<Proc>, UpstreamError> {
        for _ in 0..2 {
            let cell = self.lock().entry(key.to_owned()).or_default().clone();
            let caps = capabilities.clone();
            let proc = cell
                .get_or_try_init(|| async move {
                    match caps {
                        // A warm process is nobody's: only for uncapped tenants.
                        None if owner.max.is_none() => self.take_or_start().await,
                        None => {
                            self.start_for(super::pool::capabilities(), Some(owner))
                                .await
                        }
                        Some(c) => self.start_for(c, Some(owner)).await,
                    }
                })
                .await?
                .clone();
            if proc.upstream.is_alive() {
                proc.touch(self.base);
                return Ok(proc);
            }
            self.forget(key, &proc);
        }
        Err(UpstreamError::Closed)
    }

    /// Drop `key`'s process if it is still `proc` (it died).
    pub(crate) fn forget(&self, key: &str, proc: &Arc<Proc>) {
        let mut map = self.lock();
        if map
            .get(key)
            .and_then(|c| c.get())
            .is_some_and(|p| Arc::ptr_eq(p, proc))
        {
            map.remove(key);
        }
    }

    /// End `key`'s process (its session ended).
    pub(crate) async fn end(&self, key: &str) {
        let cell = self.lock().remove(key);
        if let Some(proc) = cell.and_then(|c| c.get().cloned()) {
            proc.upstream.kill().await;
        }
    }

    /// End processes of keys starting with `prefix` idle longer than `idle`.
    pub(crate) async fn reap(&self, prefix: &str, idle: Duration) -> usize {
        let now = self.base.elapsed().as_secs();
        let idle_keys: Vec<String> = self
            .lock()
            .iter()
            .filter(|(k, c)| {
                k.starts_with(prefix)
                    && c.get().is_some_and(|p| {
                        now.saturating_sub(p.last_used.load(Ordering::Relaxed)) >= idle.as_secs()
                    })
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in &idle_keys {
            self.end(k).await;
        }
        idle_keys.len()
    }

    /// How many processes run (warm one included).
    pub(crate) fn running(&self) -> usize {
        self.lock()
            .values()
            .filter(|c| c.get().is_some_and(|p| p.upstream.is_alive()))
            .count()
    }

    /// A warm process if one is ready, else a fresh one.
    async fn take_or_start(&self) -> Result<Arc<Proc>, UpstreamError> {
        let warm = self.warm.lock().await.take();
        if let Some(p) = warm.filter(|p| p.upstream.is_alive()) {
            return Ok(p);
        }
        self.start().await
    }

    /// Start a process declaring every capability the gateway passes on.
    pub(crate) async fn start(&self) -> Result<Arc<Proc>, UpstreamError> {
        self.start_for(capabilities(), None).await
    }

    /// Start a process, waiting up to the pool's deadline for a slot (a
    /// warm process gives its slot up to a real caller).
    pub(crate) async fn start_for(
        &self,
        capabilities: serde_json::Value,
        owner: Option<Owner<'_>>,
    ) -> Result<Arc<Proc>, UpstreamError> {
        let tenant = match owner {
            None => None,
            Some(o) => Some(self.tenants.take(o.tenant, o.max).ok_or_else(|| {
                UpstreamError::Spawn(format!(
                    "tenant {} may hold at most {} upstream processes",
                    o.tenant,
                    o.max.unwrap_or(0)
                ))
            })?),
        };
        if self.slots.available_permits() == 0
            && let Ok(mut warm) = self.warm.try_lock()
            && let Some(w) = warm.take()
        {
            w.upstream.kill().await;
        }
        let slot = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| {
                UpstreamError::Spawn(format!(
                    "all processes of upstream {} are in use (waited {} ms)",
                    self.spec.name(),
                    self.wait.as_millis()
                ))
            })?
            .map_err(|_| UpstreamError::Closed)?;
        let relay = Arc::new(Relay::new(self.stale.clone(), self.bus.clone()));
        let upstream = self
            .spec
            .start(capabilities, client_info(), relay.clone())
            .await?;
        let proc = Arc::new(Proc {
            upstream,
            relay,
            _slot: slot,
            _tenant: tenant,
            last_used: AtomicU64::new(0),
        });
        proc.touch(self.base);
        Ok(proc)
    }

    /// Keep one started process ready for the next new key.
    pub(crate) async fn fill_warm(&self) {
        let mut warm = self.warm.lock().await;
        if warm.as_ref().is_some_and(|p| p.upstream.is_alive()) {
            return;
        }
        match self.start().await {
            Ok(p) => *warm = Some(p),
            Err(e) => tracing::debug!(upstream = %self.spec.name(), error = %e, "no warm process"),
        }
    }
}
