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
//! When the count is at its cap a tenant still gets in while it holds less
//! than its weighted share of the cap (the cap times its weight over the
//! weights of the tenants present, itself included), so one tenant's flood
//! refuses that tenant, not a light one. Those admitted under their share
//! can take the count past the cap, at most to twice it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::Rejected;

/// The count of requests in hand, overall and by tenant. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Arrivals {
    shared: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    present: usize,
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

    /// Count a request of `tenant` (of `weight`, 0 taken as 1) in, under
    /// `cap` requests in hand (0: no cap); [`Rejected::Crowded`] if the
    /// count is at the cap and the tenant holds its share of it or more.
    pub fn enter(&self, tenant: &str, weight: u32, cap: usize) -> Result<Arrived, Rejected> {
        let mut st = self.shared.lock();
        let weight = weight.max(1);
        if cap > 0 && st.present >= cap && !st.under_share(tenant, weight, cap) {
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
    /// Whether `tenant` holds less than its share of `cap`, and the count
    /// is under twice the cap.
    fn under_share(&self, tenant: &str, weight: u32, cap: usize) -> bool {
        if self.present >= cap.saturating_mul(2) {
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
