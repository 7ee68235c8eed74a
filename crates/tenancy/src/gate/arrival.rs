//! The decision at a request's arrival, before its body is read: refuse it
//! at once when it could only be refused later (admission has no room for
//! its tenant), when the server already has as many requests in hand as
//! `max_in_flight + max_queue` (`max_in_flight` and those waiting for a
//! slot, while a queue stands in front of free slots) and the tenant holds
//! its share of them
//! ([`Arrivals`](switchboard_limits::Arrivals): the queue in front of the
//! handlers that a flood of connections builds, which admission's in-flight
//! count does not see), or when the runtime is running ready work later
//! than `shed_delay_ms`. What a running handler needs is never asked here:
//! the fronts pass it by (see `docs/architecture.md`, "Admission and
//! capacity"). A refusal is only counted when the front makes it
//! ([`Gate::refuse`]): a small body it reads first may turn out to be a
//! notification, which passes.

use switchboard_http::error::TransportError;
use switchboard_limits::{Arrived, Bounds, Rejected};

use super::{Gate, ticket};
use crate::tenant::Principal;

impl Gate {
    /// Count in a request of `who` (as `key`: its session, or a client
    /// without one) as it arrives, or say why it would be refused now. The
    /// returned [`Arrived`] keeps it counted until dropped, which the front
    /// does once the request's answer is decided. Takes no running slot (a
    /// request that does work still waits for one when it runs) and counts
    /// no refusal: the front refuses with [`Gate::refuse`] once it knows
    /// the request is one to refuse.
    pub fn arrive(&self, who: &Principal, key: &str) -> Result<Arrived, Rejected> {
        let c = self.0.config.load();
        let limit = c.shed_delay_ms;
        if limit > 0 && self.0.delay.current().as_millis() >= u128::from(limit) {
            return Err(Rejected::Shed);
        }
        let slots = self.admission().check(ticket(who, key))?;
        let bounds = Bounds {
            running: c.max_in_flight,
            queue: c.max_queue,
        };
        self.0
            .arrivals
            .enter(&who.tenant.id, who.tenant.weight, bounds, slots)
    }

    /// Refuse a request at arrival: counted (metrics, per tenant), and the
    /// error the client gets (503, or 429 for a tenant over its share, with
    /// `Retry-After`).
    pub fn refuse(&self, who: &Principal, rejected: Rejected) -> TransportError {
        self.metrics().requests.rejected(rejected.reason());
        self.metrics()
            .tenants
            .rejected(&who.tenant.id, rejected.reason());
        TransportError::Overloaded(rejected)
    }

    /// The runtime's scheduling delay last measured (zero while
    /// `shed_delay_ms` is 0).
    pub fn delay(&self) -> std::time::Duration {
        self.0.delay.current()
    }
}
