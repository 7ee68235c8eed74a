//! The warm process: one started ahead for the next new key, handed to a
//! stateless caller only when nobody waits ahead of it, and giving its slot
//! up to a caller that needs one.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Pool, Proc, capabilities};
use crate::UpstreamError;

impl Pool {
    /// A warm process if one is ready and nobody waits ahead of us, else a
    /// fresh one.
    pub(super) async fn take_or_start(
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
        match self.spawn(capabilities(), slot, None, None).await {
            Ok(p) => {
                if self.warm_died.swap(false, Ordering::Relaxed) {
                    self.restarted();
                }
                *warm = Some(p);
            }
            Err(e) => tracing::debug!(upstream = %self.spec.name(), error = %e, "no warm process"),
        }
    }
}
