//! The in-flight cap and its fair queue.

use std::sync::Arc;
use std::time::Duration;

mod queue;

use parking_lot::Mutex;
use queue::{Ask, State};

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// The queue is full: refused at once.
    QueueFull,
    /// The tenant's share of the queue is full while the queue itself has
    /// room: refused at once (429: the tenant, not the server, is over).
    OverShare,
    /// It waited its whole deadline without a slot.
    Timeout,
    /// Refused at arrival: the runtime is running ready work later than
    /// the configured delay (see [`Delay`](crate::Delay)).
    Shed,
    /// Refused at arrival: the server has as many requests in hand as its
    /// cap allows, and the tenant holds its share of them (see
    /// [`Arrivals`](crate::Arrivals)).
    Crowded,
}

impl Rejected {
    /// The metric label of this rejection.
    pub fn reason(self) -> &'static str {
        match self {
            Rejected::QueueFull => "queue_full",
            Rejected::OverShare => "tenant_share",
            Rejected::Timeout => "queue_timeout",
            Rejected::Shed => "shed",
            Rejected::Crowded => "crowded",
        }
    }
}

/// Who is asking for a slot.
#[derive(Debug, Clone, Copy)]
pub struct Ticket<'a> {
    /// The tenant the request counts against.
    pub tenant: &'a str,
    /// The tenant's weight: its grants per round while it has waiters (0 is
    /// taken as 1). The latest ticket of a tenant sets it.
    pub weight: u32,
    /// The tenant's own cap on its running requests, if any (0 is taken as
    /// 1). The latest ticket of a tenant sets it.
    pub max_running: Option<usize>,
    /// The most of the tenant's requests that may wait at once, if any
    /// (its share of the queue): beyond it, [`Rejected::QueueFull`] even
    /// when the shared queue has room, so one tenant cannot fill the queue
    /// for everyone.
    pub max_queued: Option<usize>,
    /// A session or client within the tenant; the tenant's grants go round
    /// its keys in turn.
    pub key: &'a str,
}

/// A slot of in-flight work; dropping it frees the slot (and the tenant's
/// running place) for the next waiter.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Shared>,
    tenant: Arc<str>,
}

impl Permit {
    /// The tenant this permit counts against.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.release(&self.tenant);
    }
}

/// A snapshot for metrics and capacity warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionStats {
    /// Requests holding a slot.
    pub in_flight: usize,
    /// Requests waiting for one.
    pub queued: usize,
    /// The cap on `in_flight`.
    pub max_in_flight: usize,
    /// The cap on `queued`.
    pub max_queue: usize,
}

/// One tenant's share of the admission, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TenantStats {
    /// The tenant's requests holding a slot.
    pub running: usize,
    /// The tenant's requests waiting for one.
    pub queued: usize,
}

/// A queued waiter that removes itself if its future is dropped.
struct Waiting<'a> {
    shared: &'a Shared,
    tenant: &'a str,
    key: &'a str,
    id: u64,
    armed: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.armed
            && !self
                .shared
                .state
                .lock()
                .remove(self.tenant, self.key, self.id)
        {
            // Granted as we left: give the slot back.
            self.shared.release(self.tenant);
        }
    }
}

#[derive(Debug)]
struct Shared {
    max_in_flight: usize,
    max_queue: usize,
    state: Mutex<State>,
}

/// A cap on in-flight work with a bounded, fair, deadline-bound queue.
///
/// Waiters are served by two-level deficit round-robin: across tenants by
/// weight (a tenant gets `weight` grants per round while it has eligible
/// waiters), and within a tenant round-robin across its keys (one grant per
/// key per turn). A tenant at its own `max_running` is skipped, its waiters
/// kept in the queue, until one of its permits drops.
#[derive(Debug, Clone)]
pub struct Admission {
    shared: Arc<Shared>,
}

impl Admission {
    /// At most `max_in_flight` (at least 1) requests run at once and at most
    /// `max_queue` wait.
    pub fn new(max_in_flight: usize, max_queue: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                max_in_flight: max_in_flight.max(1),
                max_queue,
                state: Mutex::default(),
            }),
        }
    }

    /// Wait for a slot as `key` (with `weight` turns per round), for at most
    /// `deadline`: [`admit`](Self::admit) with `key` as its own tenant and
    /// no tenant cap.
    pub async fn acquire(
        &self,
        key: &str,
        weight: u32,
        deadline: Duration,
    ) -> Result<Permit, Rejected> {
        let ticket = Ticket {
            tenant: key,
            weight,
            max_running: None,
            max_queued: None,
            key,
        };
        self.admit(ticket, deadline).await
    }

    /// Whether [`admit`](Self::admit) would refuse `ticket` at once (the
    /// queue, or the tenant's share of it, is full and no slot is free for
    /// it), without taking or queueing anything: the check a request makes
    /// when it arrives, before its body is read. If not, how the slots
    /// stand now (for the count of requests in hand).
    pub fn check(&self, ticket: Ticket<'_>) -> Result<Slots, Rejected> {
        let st = self.shared.state.lock();
        let slots = Slots {
            taken: st.in_flight,
            full: st.in_flight >= self.shared.max_in_flight,
            waiting: st.queued,
        };
        let (running, queued) = st.tenant(ticket.tenant);
        let under_cap = ticket.max_running.is_none_or(|m| running < m.max(1));
        if !slots.full && under_cap && queued == 0 {
            return Ok(slots);
        }
        refuse_queueing(&st, self.shared.max_queue, &ticket).map(|()| slots)
    }

    /// Wait for a slot for `ticket`, for at most `deadline`.
    ///
    /// Granted at once if a slot is free, the tenant is under its cap and
    /// none of its requests are waiting; otherwise queued (refused with
    /// [`Rejected::QueueFull`] if the queue is full), even when the only
    /// thing in the way is the tenant's own cap.
    pub async fn admit(&self, ticket: Ticket<'_>, deadline: Duration) -> Result<Permit, Rejected> {
        let ask = Ask {
            tenant: ticket.tenant,
            key: ticket.key,
            weight: ticket.weight.max(1),
            max_running: ticket.max_running.map(|m| m.max(1)),
        };
        let max_in_flight = self.shared.max_in_flight;
        let (id, rx) = {
            let mut st = self.shared.state.lock();
            if let Some(tenant) = st.try_take(ask, max_in_flight) {
                return Ok(self.permit(tenant));
            }
            refuse_queueing(&st, self.shared.max_queue, &ticket)?;
            let queued = st.enqueue(ask);
            // The ticket may have raised its tenant's cap.
            st.dispatch(max_in_flight);
            queued
        };
        // If this future is dropped while waiting (the client left), the
        // guard takes the waiter out of the queue, or gives back the slot
        // granted as it left.
        let mut guard = Waiting {
            shared: &self.shared,
            tenant: ticket.tenant,
            key: ticket.key,
            id,
            armed: true,
        };
        let outcome = tokio::time::timeout(deadline, rx).await;
        guard.armed = false;
        match outcome {
            Ok(Ok(())) => Ok(self.permit(Arc::from(ticket.tenant))),
            // Our sender vanished only if the admission itself went away.
            Ok(Err(_)) => Err(Rejected::Timeout),
            Err(_) => {
                if self
                    .shared
                    .state
                    .lock()
                    .remove(ticket.tenant, ticket.key, id)
                {
                    Err(Rejected::Timeout)
                } else {
                    // Granted in the same instant the deadline passed: the
                    // slot is ours, take it rather than leak it.
                    Ok(self.permit(Arc::from(ticket.tenant)))
                }
            }
        }
    }

    fn permit(&self, tenant: Arc<str>) -> Permit {
        Permit {
            admission: self.shared.clone(),
            tenant,
        }
    }

    /// The whole admission's numbers.
    pub fn stats(&self) -> AdmissionStats {
        let st = self.shared.state.lock();
        AdmissionStats {
            in_flight: st.in_flight,
            queued: st.queued,
            max_in_flight: self.shared.max_in_flight,
            max_queue: self.shared.max_queue,
        }
    }

    /// One tenant's numbers (zero for a tenant with nothing running or
    /// queued).
    pub fn tenant_stats(&self, tenant: &str) -> TenantStats {
        let (running, queued) = self.shared.state.lock().tenant(tenant);
        TenantStats { running, queued }
    }
}

/// How admission's running slots stand, as [`Admission::check`] saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slots {
    /// Slots taken (requests running).
    pub taken: usize,
    /// Every slot is taken.
    pub full: bool,
    /// Requests waiting for a slot.
    pub waiting: usize,
}

/// Whether `ticket` may wait: not if the queue is full, nor if its
/// tenant's share of it is.
fn refuse_queueing(st: &State, max_queue: usize, ticket: &Ticket<'_>) -> Result<(), Rejected> {
    if st.queued >= max_queue {
        return Err(Rejected::QueueFull);
    }
    if ticket
        .max_queued
        .is_some_and(|max| st.tenant(ticket.tenant).1 >= max)
    {
        return Err(Rejected::OverShare);
    }
    Ok(())
}

impl Shared {
    /// A slot of `tenant` was freed: hand free slots to the next eligible
    /// waiters.
    fn release(&self, tenant: &str) {
        let mut st = self.state.lock();
        st.release(tenant);
        st.dispatch(self.max_in_flight);
    }
}

#[cfg(test)]
mod leak_tests;
#[cfg(test)]
mod tenant_tests;
#[cfg(test)]
mod tests;
