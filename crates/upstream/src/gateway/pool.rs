//! The processes of one stdio upstream: one per key (a session, a
//! stateless principal, or a shared slot), at most `max_processes`, started
//! once however many calls race for them, replaced when they die, and one
//! kept warm so a new session does not wait for a cold start.
//!
//! Callers waiting for a slot are served in arrival order (the slots are a
//! FIFO semaphore, and the warm process is not handed out past a waiter);
//! one that would wait past `pool_wait_ms` gets an error saying the pool is
//! full. Starts of an upstream in a crash loop wait out its [`Backoff`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_runtime::UpstreamObserver;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::backoff::Backoff;
use super::connection::{Connection, Starter};
use super::relay::Relay;
use super::tenants::TenantSlot;
use crate::UpstreamError;

pub use super::tenants::TenantProcesses;

mod supervise;

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
    /// When it finished starting (tokio time, for the backoff).
    started: tokio::time::Instant,
    /// Its death has been counted.
    buried: AtomicBool,
}

impl Proc {
    fn touch(&self, base: Instant) {
        self.last_used
            .store(base.elapsed().as_secs(), Ordering::Relaxed);
    }
}

type Cell = Arc<OnceCell<Arc<Proc>>>;

/// Counts for metrics.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Processes being started now.
    pub(crate) starting: AtomicUsize,
    /// Processes started in place of one that died.
    pub(crate) restarts: AtomicU64,
    /// Processes the pool ended itself.
    pub(crate) kills: AtomicU64,
}

/// One more process starting while it lives.
struct Starting<'a>(&'a AtomicUsize);

impl<'a> Starting<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Self(n)
    }
}

impl Drop for Starting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One more caller waiting for a slot while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The processes of one upstream, by key.
#[derive(Debug)]
pub(crate) struct Pool {
    spec: Starter,
    slots: Arc<Semaphore>,
    max: usize,
    wait: Duration,
    procs: Mutex<HashMap<String, Cell>>,
    warm: tokio::sync::Mutex<Option<Arc<Proc>>>,
    base: Instant,
    /// Set by any process announcing a list change.
    stale: Arc<std::sync::atomic::AtomicBool>,
    bus: Option<Arc<dyn switchboard_runtime::EventBus>>,
    tenants: TenantProcesses,
    backoff: Backoff,
    /// Keys whose process died; their next start is a restart.
    died: Mutex<HashSet<String>>,
    /// The warm process died; the next one is a restart.
    warm_died: AtomicBool,
    /// Callers waiting for a slot now.
    waiting: AtomicUsize,
    pub(crate) counts: Counts,
    pub(crate) observer: OnceLock<Arc<dyn UpstreamObserver>>,
    /// The supervisor runs.
    supervised: AtomicBool,
}

/// The client capabilities Switchboard declares to its upstreams: all it can
/// pass through (each request is checked against the real client's).
pub(crate) fn capabilities() -> serde_json::Value {
    json!({"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {"listChanged": true}})
}

fn client_info() -> serde_json::Value {
    json!({"name": "switchboard", "version": env!("CARGO_PKG_VERSION")})
}

/// Most keys remembered as having a dead process.
const MAX_DIED: usize = 10_000;

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
            max: max_processes,
            wait,
            procs: Mutex::default(),
            warm: tokio::sync::Mutex::default(),
            base: Instant::now(),
            backoff: Backoff::default(),
            died: Mutex::default(),
            warm_died: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
            counts: Counts::default(),
            observer: OnceLock::new(),
            supervised: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cell>> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn died_keys(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.died.lock().unwrap_or_else(|e| e.into_inner())
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
        let deadline = tokio::time::Instant::now() + self.wait;
        for _ in 0..2 {
            let cell = self.lock().entry(key.to_owned()).or_default().clone();
            let caps = capabilities.clone();
            let proc = cell
                .get_or_try_init(|| async move {
                    let proc = match caps {
                        // A warm process is nobody's: only for uncapped tenants.
                        None if owner.max.is_none() => self.take_or_start(deadline).await,
                        None => {
                            self.start_for(self::capabilities(), Some(owner), Some(deadline))
                                .await
                        }
                        Some(c) => self.start_for(c, Some(owner), Some(deadline)).await,
                    }?;
                    if self.died_keys().remove(key) {
                        self.counts.restarts.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok::<_, UpstreamError>(proc)
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

    /// `key`'s process `proc` died: count it (once), feed the backoff, and
    /// drop it if it is still `key`'s, so the next call starts a new one.
    pub(crate) fn forget(&self, key: &str, proc: &Arc<Proc>) {
        let mut map = self.lock();
        if map
            .get(key)
            .and_then(|c| c.get())
            .is_some_and(|p| Arc::ptr_eq(p, proc))
        {
            map.remove(key);
            drop(map);
            let mut died = self.died_keys();
            if died.len() >= MAX_DIED {
                died.clear();
            }
            died.insert(key.to_owned());
        }
        self.bury(proc);
    }

    /// Count `proc`'s death once: an early death is a crash-loop failure.
    fn bury(&self, proc: &Proc) {
        if !proc.buried.swap(true, Ordering::Relaxed) {
            self.backoff.died(proc.started);
        }
    }

    /// End `proc` on purpose (it is not a death).
    async fn kill(&self, proc: &Proc) {
        proc.buried.store(true, Ordering::Relaxed);
        if proc.upstream.is_alive() {
            self.counts.kills.fetch_add(1, Ordering::Relaxed);
        }
        proc.upstream.kill().await;
    }

    /// End `key`'s process (its session ended).
    pub(crate) async fn end(&self, key: &str) {
        let cell = self.lock().remove(key);
        self.died_keys().remove(key);
        if let Some(proc) = cell.and_then(|c| c.get().cloned()) {
            self.kill(&proc).await;
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

    /// How many processes run (the warm one not included).
    pub(crate) fn running(&self) -> usize {
        self.lock()
            .values()
            .filter(|c| c.get().is_some_and(|p| p.upstream.is_alive()))
            .count()
    }

    /// Live processes serving no request now, the warm one included.
    pub(crate) fn idle(&self) -> usize {
        let idle = self
            .lock()
            .values()
            .filter(|c| {
                c.get()
                    .is_some_and(|p| p.upstream.is_alive() && !p.relay.busy())
            })
            .count();
        let warm = self
            .warm
            .try_lock()
            .is_ok_and(|w| w.as_ref().is_some_and(|p| p.upstream.is_alive()));
        idle + usize::from(warm)
    }

    /// Callers waiting for a slot now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// A warm process if one is ready and nobody waits ahead of us, else a
    /// fresh one.
    async fn take_or_start(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<Arc<Proc>, UpstreamError> {
        if self.waiting() == 0
            && let Ok(mut warm) = self.warm.try_lock()
            && let Some(p) = warm.take()
        {
            if p.upstream.is_alive() {
                return Ok(p);
            }
            self.bury(&p);
            self.warm_died.store(true, Ordering::Relaxed);
        }
        self.start_for(capabilities(), None, Some(deadline)).await
    }

    /// Start a process declaring every capability the gateway passes on.
    pub(crate) async fn start(&self) -> Result<Arc<Proc>, UpstreamError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        self.start_for(capabilities(), None, Some(deadline)).await
    }

    /// Start a process, waiting until `deadline` for a slot (a warm
    /// process gives its slot up to a real caller) and for the backoff of
    /// a crash loop.
    async fn start_for(
        &self,
        capabilities: serde_json::Value,
        owner: Option<Owner<'_>>,
        deadline: Option<tokio::time::Instant>,
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
        self.backoff_within(deadline)?;
        if self.slots.available_permits() == 0
            && let Ok(mut warm) = self.warm.try_lock()
            && let Some(w) = warm.take()
        {
            self.kill(&w).await;
        }
        let slot = self.acquire(deadline).await?;
        // The backoff may have grown while we waited.
        let delay = self.backoff_within(deadline)?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.spawn(capabilities, slot, tenant).await
    }

    /// The backoff delay, or an error if it ends past `deadline`.
    fn backoff_within(
        &self,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Duration, UpstreamError> {
        let delay = self.backoff.delay();
        if deadline.is_some_and(|d| tokio::time::Instant::now() + delay > d) {
            return Err(UpstreamError::Spawn(format!(
                "upstream {} keeps failing to start ({} failures in a row): the next start is held back; retry in {} ms",
                self.spec.name(),
                self.backoff.failures(),
                delay.as_millis().max(1)
            )));
        }
        Ok(delay)
    }

    /// A process slot, in arrival order, by `deadline`.
    async fn acquire(
        &self,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<OwnedSemaphorePermit, UpstreamError> {
        let began = tokio::time::Instant::now();
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => Ok(slot),
            Err(TryAcquireError::Closed) => Err(UpstreamError::Closed),
            Err(TryAcquireError::NoPermits) => {
                self.waiting.fetch_add(1, Ordering::Relaxed);
                let _waiting = Waiting(&self.waiting);
                let acquire = self.slots.clone().acquire_owned();
                match deadline {
                    None => acquire.await.map_err(|_| UpstreamError::Closed),
                    Some(d) => match tokio::time::timeout_at(d, acquire).await {
                        Ok(slot) => slot.map_err(|_| UpstreamError::Closed),
                        Err(_) => Err(UpstreamError::Spawn(format!(
                            "pool full: all {} processes of upstream {} are in use (waited {} ms); retry later",
                            self.max,
                            self.spec.name(),
                            began.elapsed().as_millis()
                        ))),
                    },
                }
            }
        };
        if let Some(o) = self.observer.get() {
            o.pool_waited(self.spec.name(), began.elapsed());
        }
        slot
    }

    /// Start a process in `slot`.
    async fn spawn(
        &self,
        capabilities: serde_json::Value,
        slot: OwnedSemaphorePermit,
        tenant: Option<TenantSlot>,
    ) -> Result<Arc<Proc>, UpstreamError> {
        let _starting = Starting::new(&self.counts.starting);
        let relay = Arc::new(Relay::new(self.stale.clone(), self.bus.clone()));
        let upstream = match self
            .spec
            .start(capabilities, client_info(), relay.clone())
            .await
        {
            Ok(u) => u,
            Err(e) => {
                let delay = self.backoff.failed();
                tracing::warn!(upstream = %self.spec.name(), error = %e, next_start_in_ms = delay.as_millis() as u64, "upstream did not start");
                return Err(e);
            }
        };
        let proc = Arc::new(Proc {
            upstream,
            relay,
            _slot: slot,
            _tenant: tenant,
            last_used: AtomicU64::new(0),
            started: tokio::time::Instant::now(),
            buried: AtomicBool::new(false),
        });
        proc.touch(self.base);
        Ok(proc)
    }

    /// Give the warm process's slot to a caller waiting for one (a warm
    /// process filled while the caller started to wait).
    pub(crate) async fn yield_warm(&self) {
        if self.waiting() == 0 {
            return;
        }
        let warm = match self.warm.try_lock() {
            Ok(mut warm) => warm.take(),
            Err(_) => None,
        };
        if let Some(p) = warm {
            self.kill(&p).await;
        }
    }

    /// Keep one started process ready for the next new key, if a slot is
    /// free, nobody waits for one, and no backoff holds starts back.
    pub(crate) async fn fill_warm(&self) {
        let Ok(mut warm) = self.warm.try_lock() else {
            return;
        };
        if let Some(p) = warm.as_ref() {
            if p.upstream.is_alive() {
                return;
            }
            self.bury(p);
            self.warm_died.store(true, Ordering::Relaxed);
            *warm = None;
        }
        if self.waiting() > 0 || !self.backoff.delay().is_zero() {
            return;
        }
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return;
        };
        match self.spawn(capabilities(), slot, None).await {
            Ok(p) => {
                if self.warm_died.swap(false, Ordering::Relaxed) {
                    self.counts.restarts.fetch_add(1, Ordering::Relaxed);
                }
                *warm = Some(p);
            }
            Err(e) => tracing::debug!(upstream = %self.spec.name(), error = %e, "no warm process"),
        }
    }
}
