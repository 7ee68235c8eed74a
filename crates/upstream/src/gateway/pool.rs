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
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::json;
use switchboard_identity::Credential;
use switchboard_runtime::UpstreamObserver;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use super::backoff::Backoff;
use super::connection::{Connection, Starter};
use super::relay::Relay;
use super::tenants::TenantSlot;
use crate::UpstreamError;

pub use super::tenants::TenantProcesses;

mod start;
mod supervise;
mod warm;

/// Whose process is being started: the tenant and its cap, and the
/// caller's token from the identity provider, if the upstream takes one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub(crate) tenant: &'a str,
    pub(crate) max: Option<usize>,
    pub(crate) bearer: Option<&'a Credential>,
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

/// What the pools of one upstream's lanes share.
#[derive(Debug, Clone, Default)]
pub(crate) struct Common {
    /// Set by any process announcing a list change.
    pub(crate) stale: Arc<AtomicBool>,
    /// Where resource updates are published.
    pub(crate) bus: Option<Arc<dyn switchboard_runtime::EventBus>>,
    /// Tenants' process counts.
    pub(crate) tenants: TenantProcesses,
    /// Callers waiting for a slot.
    pub(crate) waiting: Arc<AtomicUsize>,
    /// The token vault (for the lanes' identities; pools do not use it).
    pub(crate) vault: Option<Arc<switchboard_identity::Vault>>,
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
    /// Callers waiting for a slot now (shared by an upstream's lanes, so
    /// a warm process gives its slot up to any of them).
    waiting: Arc<AtomicUsize>,
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

/// Who Switchboard says it is to its upstreams (`clientInfo`).
pub(crate) fn client_info() -> serde_json::Value {
    json!({"name": "switchboard", "version": env!("CARGO_PKG_VERSION")})
}

/// Most keys remembered as having a dead process.
const MAX_DIED: usize = 10_000;

impl Pool {
    /// A process was started in place of one that died: counted, and the
    /// lists are read again (the new process may be a new version of the
    /// upstream, offering other tools or other definitions of them).
    pub(crate) fn restarted(&self) {
        self.counts.restarts.fetch_add(1, Ordering::Relaxed);
        self.stale.store(true, Ordering::Relaxed);
    }

    /// A pool starting connections with `spec`, each holding one of
    /// `slots` (`max` of them), waiting for one at most `wait`.
    pub(crate) fn new(
        spec: Starter,
        slots: Arc<Semaphore>,
        max: usize,
        wait: Duration,
        common: Common,
    ) -> Self {
        let Common {
            stale,
            bus,
            tenants,
            waiting,
            vault: _,
        } = common;
        Self {
            stale,
            bus,
            tenants,
            spec,
            slots,
            max,
            wait,
            procs: Mutex::default(),
            warm: tokio::sync::Mutex::default(),
            base: Instant::now(),
            backoff: Backoff::default(),
            died: Mutex::default(),
            warm_died: AtomicBool::new(false),
            waiting,
            counts: Counts::default(),
            observer: OnceLock::new(),
            supervised: AtomicBool::new(false),
        }
    }

    /// The process of `key`, started if it has none (or its last one died).
    /// A new process declares `capabilities` (None: everything the gateway
    /// can pass on, and a warm process may serve).
    pub(crate) async fn get(
        &self,
        key: &str,
        capabilities: Option<&serde_json::Value>,
        owner: Owner<'_>,
    ) -> Result<Arc<Proc>, UpstreamError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        for _ in 0..2 {
            let cell = {
                let mut map = self.procs.lock();
                match map.get(key) {
                    Some(cell) => cell.clone(),
                    None => map.entry(key.to_owned()).or_default().clone(),
                }
            };
            let proc = cell
                .get_or_try_init(|| async move {
                    let proc = match capabilities.cloned() {
                        // A warm process is nobody's: only for uncapped
                        // tenants, and never for a caller's own token.
                        None if owner.max.is_none() && owner.bearer.is_none() => {
                            self.take_or_start(deadline).await
                        }
                        None => {
                            self.start_for(self::capabilities(), Some(owner), Some(deadline))
                                .await
                        }
                        Some(c) => self.start_for(c, Some(owner), Some(deadline)).await,
                    }?;
                    if self.died.lock().remove(key) {
                        self.restarted();
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
        let mut map = self.procs.lock();
        if map
            .get(key)
            .and_then(|c| c.get())
            .is_some_and(|p| Arc::ptr_eq(p, proc))
        {
            map.remove(key);
            drop(map);
            let mut died = self.died.lock();
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
        let cell = self.procs.lock().remove(key);
        self.died.lock().remove(key);
        if let Some(proc) = cell.and_then(|c| c.get().cloned()) {
            self.kill(&proc).await;
        }
    }

    /// End processes of keys starting with `prefix` idle longer than `idle`.
    pub(crate) async fn reap(&self, prefix: &str, idle: Duration) -> usize {
        let now = self.base.elapsed().as_secs();
        let idle_keys: Vec<String> = self
            .procs
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

    /// The process id of `key`'s process, if it is a live child process.
    pub(crate) fn pid(&self, key: &str) -> Option<u32> {
        self.procs
            .lock()
            .get(key)
            .and_then(|c| c.get().cloned())
            .and_then(|p| p.upstream.pid())
    }

    /// The upstream was removed: start nothing more (the slots close, so
    /// every start fails as closed) and end every process, the warm one
    /// included. A process still starting is ended by the supervisor's
    /// next look, or when its caller lets go of it.
    pub(crate) async fn close(&self) {
        self.slots.close();
        let procs: Vec<Arc<Proc>> = self
            .procs
            .lock()
            .drain()
            .filter_map(|(_, c)| c.get().cloned())
            .collect();
        for p in procs {
            self.kill(&p).await;
        }
        let warm = self.warm.lock().await.take();
        if let Some(w) = warm {
            self.kill(&w).await;
        }
    }

    /// Whether [`Pool::close`] ran.
    pub(crate) fn closed(&self) -> bool {
        self.slots.is_closed()
    }

    /// How many processes run (the warm one not included).
    pub(crate) fn running(&self) -> usize {
        self.procs
            .lock()
            .values()
            .filter(|c| c.get().is_some_and(|p| p.upstream.is_alive()))
            .count()
    }

    /// Live processes serving no request now, the warm one included.
    pub(crate) fn idle(&self) -> usize {
        let idle = self
            .procs
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
}
