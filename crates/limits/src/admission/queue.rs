//! The queue behind [`Admission`](super::Admission): two-level deficit
//! round-robin, across tenants by weight and across keys within a tenant.
//!
//! Bookkeeping rules, kept by every method here:
//! - a tenant has an entry exactly while it has running or queued requests;
//! - a tenant is in the ring exactly while it has queued requests;
//! - a waiter taken out of the queue by [`State::dispatch`] has been granted
//!   its slot (counted in `in_flight` and its tenant's `running`) whether or
//!   not the waiter is still listening; a waiter that finds itself no longer
//!   queued ([`State::remove`] returns false) owns that slot and must take it
//!   or give it back;
//! - after [`State::dispatch`], either every slot is taken or no queued
//!   waiter is eligible (every tenant with waiters is at its own cap).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::oneshot;

/// The tenant's side of a waiter: fired when the waiter is granted a slot.
type Grant = oneshot::Sender<()>;

#[derive(Debug)]
struct Tenant {
    name: Arc<str>,
    weight: u32,
    /// Grants left in this tenant's current turn.
    credit: u32,
    max_running: Option<usize>,
    running: usize,
    queued: usize,
    /// Waiters by key, oldest first.
    lines: HashMap<Arc<str>, VecDeque<(u64, Grant)>>,
    /// Keys with waiters, in turn order.
    keys: VecDeque<Arc<str>>,
}

impl Tenant {
    fn new(name: &str, weight: u32, max_running: Option<usize>) -> Self {
        Self {
            name: Arc::from(name),
            weight,
            credit: weight,
            max_running,
            running: 0,
            queued: 0,
            lines: HashMap::new(),
            keys: VecDeque::new(),
        }
    }

    fn at_cap(&self) -> bool {
        self.max_running.is_some_and(|max| self.running >= max)
    }

    fn idle(&self) -> bool {
        self.running == 0 && self.queued == 0
    }

    /// The oldest waiter of the key whose turn it is; each key gets one
    /// grant per turn.
    fn pop(&mut self) -> Option<Grant> {
        let key = self.keys.pop_front()?;
        let line = self.lines.get_mut(&key)?;
        let (_, grant) = line.pop_front()?;
        self.queued -= 1;
        if line.is_empty() {
            self.lines.remove(&key);
        } else {
            self.keys.push_back(key);
        }
        Some(grant)
    }

    fn remove(&mut self, key: &str, id: u64) -> bool {
        let Some(line) = self.lines.get_mut(key) else {
            return false;
        };
        let Some(pos) = line.iter().position(|(w, _)| *w == id) else {
            return false;
        };
        line.remove(pos);
        self.queued -= 1;
        if line.is_empty() {
            self.lines.remove(key);
            self.keys.retain(|k| &**k != key);
        }
        true
    }
}

/// Everything behind the admission's lock.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) in_flight: usize,
    pub(super) queued: usize,
    next_id: u64,
    /// Keyed by the configuration's tenants (foldhash, not SipHash: a
    /// lookup on every admission and release).
    tenants: HashMap<Arc<str>, Tenant, foldhash::fast::RandomState>,
    /// Tenants with waiters, in turn order.
    ring: VecDeque<Arc<str>>,
}

/// What a ticket asks for, with its numbers already clamped.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ask<'a> {
    pub(super) tenant: &'a str,
    pub(super) key: &'a str,
    pub(super) weight: u32,
    pub(super) max_running: Option<usize>,
}

impl State {
    /// The fast path: take a slot now if one is free, the tenant is under
    /// its cap and none of its requests wait before this one. Returns the
    /// tenant's name for the permit.
    pub(super) fn try_take(&mut self, ask: Ask<'_>, max_in_flight: usize) -> Option<Arc<str>> {
        let free = self.in_flight < max_in_flight;
        let tenant = match self.tenants.get_mut(ask.tenant) {
            Some(t) => {
                t.weight = ask.weight;
                t.max_running = ask.max_running;
                if !free || t.at_cap() || t.queued > 0 {
                    return None;
                }
                t
            }
            None => {
                if !free {
                    return None;
                }
                let t = Tenant::new(ask.tenant, ask.weight, ask.max_running);
                self.tenants.entry(t.name.clone()).or_insert(t)
            }
        };
        tenant.running += 1;
        self.in_flight += 1;
        Some(tenant.name.clone())
    }

    /// Queue a waiter; the caller checked there is room.
    pub(super) fn enqueue(&mut self, ask: Ask<'_>) -> (u64, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let id = self.next_id;
        self.next_id += 1;
        self.queued += 1;
        let tenant = match self.tenants.get_mut(ask.tenant) {
            Some(t) => t,
            None => {
                let t = Tenant::new(ask.tenant, ask.weight, ask.max_running);
                self.tenants.entry(t.name.clone()).or_insert(t)
            }
        };
        tenant.weight = ask.weight;
        tenant.max_running = ask.max_running;
        if tenant.queued == 0 {
            tenant.credit = tenant.weight;
            self.ring.push_back(tenant.name.clone());
        }
        tenant.queued += 1;
        let line = match tenant.lines.get_mut(ask.key) {
            Some(line) => line,
            None => {
                let key: Arc<str> = Arc::from(ask.key);
                tenant.keys.push_back(key.clone());
                tenant.lines.entry(key).or_default()
            }
        };
        line.push_back((id, tx));
        (id, rx)
    }

    /// Hand free slots to eligible waiters: the first tenant in the ring
    /// that is under its cap takes one grant of its credit; out of credit it
    /// goes to the back with its credit refilled. Tenants at their cap keep
    /// their place (and credit) and are skipped.
    pub(super) fn dispatch(&mut self, max_in_flight: usize) {
        while self.in_flight < max_in_flight {
            let tenants = &self.tenants;
            let Some(pos) = self
                .ring
                .iter()
                .position(|name| tenants.get(name).is_some_and(|t| !t.at_cap()))
            else {
                break;
            };
            let name = self.ring[pos].clone();
            let Some(tenant) = self.tenants.get_mut(&name) else {
                self.ring.remove(pos);
                continue;
            };
            let Some(grant) = tenant.pop() else {
                // No waiters after all: it should not have been in the ring.
                self.ring.remove(pos);
                if tenant.idle() {
                    self.tenants.remove(&name);
                }
                continue;
            };
            self.queued -= 1;
            self.in_flight += 1;
            tenant.running += 1;
            tenant.credit = tenant.credit.saturating_sub(1);
            if tenant.queued == 0 {
                self.ring.remove(pos);
            } else if tenant.credit == 0 {
                tenant.credit = tenant.weight;
                self.ring.remove(pos);
                self.ring.push_back(name);
            }
            // A waiter that stopped listening finds itself no longer queued
            // and gives the slot back itself.
            let _ = grant.send(());
        }
    }

    /// A permit of `tenant` was dropped. The caller dispatches next.
    pub(super) fn release(&mut self, tenant: &str) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(t) = self.tenants.get_mut(tenant) {
            t.running = t.running.saturating_sub(1);
            if t.idle() {
                self.tenants.remove(tenant);
            }
        }
    }

    /// Take a waiter out of the queue (its deadline passed, or it left);
    /// false if it was already granted.
    pub(super) fn remove(&mut self, tenant: &str, key: &str, id: u64) -> bool {
        let Some(t) = self.tenants.get_mut(tenant) else {
            return false;
        };
        if !t.remove(key, id) {
            return false;
        }
        self.queued -= 1;
        if t.queued == 0 {
            self.ring.retain(|n| &**n != tenant);
            if t.idle() {
                self.tenants.remove(tenant);
            }
        }
        true
    }

    /// `(running, queued)` of one tenant.
    pub(super) fn tenant(&self, tenant: &str) -> (usize, usize) {
        self.tenants
            .get(tenant)
            .map_or((0, 0), |t| (t.running, t.queued))
    }

    /// How many tenants have an entry: those running or queued.
    #[cfg(test)]
    pub(super) fn tenant_entries(&self) -> usize {
        self.tenants.len()
    }
}
