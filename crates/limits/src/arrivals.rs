//! The requests a server has in hand: counted from the moment a request
//! arrives (its headers read, before its body) until its answer is decided.
//!
//! Admission's in-flight cap counts a request only while its handler runs.
//! A call that takes microseconds rarely holds a slot when the next one
//! asks, so under a flood of clients the cap never trips: the requests wait
//! instead in the runtime, between their arrival and their handler, and in
//! front of their answer, where no count sees them, and every admitted
//! request waits behind the whole flood. Counting from arrival sees that
//! wait, and a request that arrives with the server's hands full is refused
//! at once, before its body is read: cheap for the server, and a clear
//! `Retry-After` for its client, whose absence then shortens everyone
//! else's wait.
//!
//! The cap ([`Bounds`]) is the requests that may run at once plus a queue.
//! The queue is for bursts: a queue that stands in front of the handlers
//! while running slots are free buys every request that much more wait
//! and no more throughput (as CoDel says of a packet queue). It stands
//! when the backlog arrivals find — requests in hand neither running nor
//! waiting for a slot, counted as none while every slot is taken —
//! averaged over about [`STANDING`] (decaying with time, not with the
//! number of arrivals), is above the running cap. Not the backlog's lowest
//! point: on a machine where the server and its clients share cores, the
//! server drains its hands each time its clients are off the cores, so a
//! standing queue still touches bottom. While a queue stands, the cap is
//! the running cap plus the requests waiting for a slot, until no arrival
//! has been refused for [`STANDING`] (the flood is over) and the queue is
//! given back. Requests waiting for a slot while every slot is taken are
//! admission's own queue, served by weight and bounded by its deadline:
//! that queue is not cut.
//!
//! When the count is at its cap a tenant still gets in while it holds less
//! than its weighted share of the cap (the cap times its weight over the
//! weights of the tenants present, itself included), so one tenant's flood
//! refuses that tenant, not a light one. Those admitted under their share
//! can take the count past the cap, at most to twice the cap with its
//! queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::{Rejected, Slots};

/// The count of requests in hand, overall and by tenant. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Arrivals {
    shared: Arc<Mutex<State>>,
}

/// The time over which the count arrivals find is averaged to see whether
/// a queue stands (CoDel's interval), and how long without a refusal
/// before a standing queue is given back.
pub const STANDING: Duration = Duration::from_millis(100);

/// How many requests may be in hand: `running` (the in-flight cap) and a
/// `queue` on top of it for bursts. Both 0: no cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The requests that may run at once.
    pub running: usize,
    /// The requests that may wait on top of them, while the wait does not
    /// stand.
    pub queue: usize,
}

#[derive(Debug, Default)]
struct State {
    present: usize,
    /// The backlog arrivals found, averaged over about [`STANDING`], and
    /// when it was last brought up to date.
    seen: f64,
    seen_at: Option<Instant>,
    /// While a queue stands: the last time an arrival was refused.
    standing: Option<Instant>,
    /// The weights of the tenants present, summed.
    weights: u64,
    /// Each tenant present: its requests in hand and its weight.
    /// (foldhash: looked up on every arrival and departure.)
    tenants: HashMap<Arc<str>, (usize, u32), foldhash::fast::RandomState>,
}

/// One request in hand; dropping it takes it out of the count.
#[derive(Debug)]
pub struct Arrived {
    shared: Arc<Mutex<State>>,
    tenant: Arc<str>,
}

impl Drop for Arrived {
    fn drop(&mut self) {
        self.shared.lock().leave(&self.tenant);
    }
}

impl Arrivals {
    /// An empty count.
    pub fn new() -> Self {
        Self::default()
    }

    /// Count a request of `tenant` (of `weight`, 0 taken as 1) in, within
    /// `bounds`, admission's `slots` standing as they do;
    /// [`Rejected::Crowded`] if the count is at the cap (while a queue
    /// stands, the running cap plus the requests waiting for a slot) and
    /// the tenant holds its share of it or more.
    pub fn enter(
        &self,
        tenant: &str,
        weight: u32,
        bounds: Bounds,
        slots: Slots,
    ) -> Result<Arrived, Rejected> {
        self.enter_at(tenant, weight, bounds, slots, Instant::now())
    }

    /// [`Arrivals::enter`] at `now`.
    fn enter_at(
        &self,
        tenant: &str,
        weight: u32,
        bounds: Bounds,
        slots: Slots,
        now: Instant,
    ) -> Result<Arrived, Rejected> {
        let mut st = self.shared.lock();
        let weight = weight.max(1);
        // Neither running nor waiting for a slot; none while every slot is
        // taken (then the wait is admission's own queue).
        let backlog = if slots.full {
            0
        } else {
            st.present.saturating_sub(slots.taken + slots.waiting)
        };
        st.see(backlog, now);
        let cap = st.cap(bounds, slots, now);
        let ceiling = bounds
            .running
            .saturating_add(bounds.queue)
            .saturating_mul(2);
        if cap > 0 && st.present >= cap && !st.under_share(tenant, weight, cap, ceiling) {
            if st.standing.is_some() {
                st.standing = Some(now);
            }
            return Err(Rejected::Crowded);
        }
        let tenant = st.enter(tenant, weight);
        drop(st);
        Ok(Arrived {
            shared: self.shared.clone(),
            tenant,
        })
    }

    /// The requests in hand now.
    pub fn present(&self) -> usize {
        self.shared.lock().present
    }

    /// The requests of `tenant` in hand now.
    pub fn tenant(&self, tenant: &str) -> usize {
        self.shared.lock().tenants.get(tenant).map_or(0, |t| t.0)
    }
}

impl State {
    /// Bring the average backlog up to date with an arrival at `now` that
    /// found `backlog`: the older the average, the less it weighs.
    fn see(&mut self, backlog: usize, now: Instant) {
        let backlog = backlog as f64;
        let Some(at) = self.seen_at.replace(now) else {
            self.seen = backlog;
            return;
        };
        let age = now.saturating_duration_since(at).as_secs_f64();
        let fresh = 1.0 - (-age / STANDING.as_secs_f64()).exp();
        self.seen += (backlog - self.seen) * fresh;
    }

    /// The cap on the count now: running plus queue, or, while a queue
    /// stands, the running cap plus the requests waiting for a slot
    /// (entered when the average backlog is above the running cap, left
    /// when no arrival has been refused for [`STANDING`]).
    fn cap(&mut self, bounds: Bounds, slots: Slots, now: Instant) -> usize {
        let full = bounds.running.saturating_add(bounds.queue);
        if bounds.running == 0 || bounds.queue == 0 {
            self.standing = None;
            return full;
        }
        let cut = bounds.running.saturating_add(slots.waiting).min(full);
        if let Some(refused) = self.standing {
            if now.saturating_duration_since(refused) < STANDING {
                return cut;
            }
            self.standing = None;
        }
        if self.seen > bounds.running as f64 {
            self.standing = Some(now);
            return cut;
        }
        full
    }

    /// Whether `tenant` holds less than its share of `cap`, and the count
    /// is under `ceiling` (twice the cap with its queue: a standing queue
    /// cuts the flood, not a light tenant's way in).
    fn under_share(&self, tenant: &str, weight: u32, cap: usize, ceiling: usize) -> bool {
        if self.present >= ceiling {
            return false;
        }
        let (held, weights) = match self.tenants.get(tenant) {
            Some(&(held, w)) => (held, self.weights - u64::from(w) + u64::from(weight)),
            None => (0, self.weights + u64::from(weight)),
        };
        // held < cap × weight / weights, without the division's rounding.
        (held as u128) * u128::from(weights) < (cap as u128) * u128::from(weight)
    }

    fn enter(&mut self, tenant: &str, weight: u32) -> Arc<str> {
        self.present += 1;
        if let Some((key, &(held, old))) = self.tenants.get_key_value(tenant) {
            let key = key.clone();
            // The latest request of a tenant sets its weight.
            self.weights = self.weights - u64::from(old) + u64::from(weight);
            self.tenants.insert(key.clone(), (held + 1, weight));
            return key;
        }
        let key: Arc<str> = Arc::from(tenant);
        self.weights += u64::from(weight);
        self.tenants.insert(key.clone(), (1, weight));
        key
    }

    fn leave(&mut self, tenant: &str) {
        self.present -= 1;
        let Some(entry) = self.tenants.get_mut(tenant) else {
            return;
        };
        entry.0 -= 1;
        if entry.0 == 0 {
            self.weights -= u64::from(entry.1);
            self.tenants.remove(tenant);
        }
    }
}

#[cfg(test)]
mod tests;
