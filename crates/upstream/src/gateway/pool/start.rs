//! How a pool's process starts: a slot in arrival order (the slots are a
//! FIFO semaphore) by the caller's deadline, else "pool full"; the crash
//! loop's backoff waited out, or refused at once when it ends past the
//! deadline; then the spawn, counted while it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use switchboard_identity::Credential;
use tokio::sync::{OwnedSemaphorePermit, TryAcquireError};

use super::super::relay::Relay;
use super::super::tenants::TenantSlot;
use super::{Owner, Pool, Proc, capabilities, client_info};
use crate::UpstreamError;

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

impl Pool {
    /// Start a process declaring every capability the gateway passes on
    /// (with `bearer` as its token, if given): the start-up probe.
    pub(crate) async fn start(
        &self,
        bearer: Option<&Credential>,
    ) -> Result<Arc<Proc>, UpstreamError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        self.start_bearing(capabilities(), None, Some(deadline), bearer)
            .await
    }

    /// Start a process, waiting until `deadline` for a slot (a warm
    /// process gives its slot up to a real caller) and for the backoff of
    /// a crash loop.
    pub(super) async fn start_for(
        &self,
        capabilities: serde_json::Value,
        owner: Option<Owner<'_>>,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Arc<Proc>, UpstreamError> {
        let bearer = owner.and_then(|o| o.bearer);
        self.start_bearing(capabilities, owner, deadline, bearer)
            .await
    }

    /// [`Pool::start_for`], an HTTP session sending `bearer`.
    async fn start_bearing(
        &self,
        capabilities: serde_json::Value,
        owner: Option<Owner<'_>>,
        deadline: Option<tokio::time::Instant>,
        bearer: Option<&Credential>,
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
        self.spawn(capabilities, slot, tenant, bearer).await
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

    /// Start a process in `slot` (an HTTP session with `bearer` as its
    /// caller's token, if given).
    pub(super) async fn spawn(
        &self,
        capabilities: serde_json::Value,
        slot: OwnedSemaphorePermit,
        tenant: Option<TenantSlot>,
        bearer: Option<&Credential>,
    ) -> Result<Arc<Proc>, UpstreamError> {
        let _starting = Starting::new(&self.counts.starting);
        let relay = Arc::new(Relay::new(self.stale.clone(), self.bus.clone()));
        let upstream = match self
            .spec
            .start(capabilities, client_info(), relay.clone(), bearer)
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
}
