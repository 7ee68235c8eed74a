//! The pool's supervisor: a task that looks at the processes every
//! [`TICK`], counts the dead (an early death feeds the backoff; one up long
//! enough ends a crash loop), restarts dead `shared` processes and refills
//! the warm one — never sooner than the backoff allows — or ends it when a
//! caller waits for its slot. It ends with the pool.

use std::sync::Arc;
use std::time::Duration;

use super::{Pool, Proc, capabilities};

/// How often the supervisor looks.
const TICK: Duration = Duration::from_millis(200);

impl Pool {
    /// Supervise this pool: restart the `shared` keys' processes when they
    /// die, and keep a warm process if `warm`.
    pub(crate) fn supervise(self: &Arc<Self>, shared: Vec<String>, warm: bool) {
        if self
            .supervised
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let pool = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                let Some(pool) = pool.upgrade() else { return };
                pool.tend(&shared, warm).await;
            }
        });
    }

    async fn tend(&self, shared: &[String], warm: bool) {
        if self.closed() {
            // Whatever finished starting after the close.
            self.close().await;
            return;
        }
        let procs: Vec<(String, Arc<Proc>)> = self
            .procs
            .lock()
            .iter()
            .filter_map(|(k, c)| Some((k.clone(), c.get()?.clone())))
            .collect();
        for (key, proc) in procs {
            if proc.upstream.is_alive() {
                self.backoff.alive(proc.started);
            } else {
                self.forget(&key, &proc);
            }
        }
        if warm {
            self.yield_warm().await;
        }
        if !self.backoff.delay().is_zero() {
            return;
        }
        for key in shared {
            if self.died.lock().contains(key) {
                self.restart(key).await;
            }
        }
        if warm {
            self.fill_warm().await;
        }
    }

    /// Start `key`'s process again (it died).
    async fn restart(&self, key: &str) {
        let cell = self.procs.lock().entry(key.to_owned()).or_default().clone();
        let started = cell
            .get_or_try_init(|| async {
                let deadline = tokio::time::Instant::now() + self.wait;
                let proc = self.start_for(capabilities(), None, Some(deadline)).await?;
                if self.died.lock().remove(key) {
                    self.restarted();
                }
                Ok::<_, crate::UpstreamError>(proc)
            })
            .await;
        if let Err(e) = started {
            tracing::warn!(upstream = %self.spec.name(), key, error = %e, "restart failed");
        }
    }
}
