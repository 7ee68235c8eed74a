//! The decision at a request's arrival, before its body is read: refuse it
//! at once when it could only be refused later (admission has no room for
//! its tenant) or when the runtime is running ready work later than
//! `shed_delay_ms` (the queue in front of the handlers that a flood of
//! connections builds). What a running handler needs is never asked here:
//! the fronts pass it by (see `docs/architecture.md`, "Admission and
//! capacity").

use switchboard_http::error::TransportError;
use switchboard_limits::Rejected;

use super::{Gate, ticket};
use crate::tenant::Principal;

impl Gate {
    /// May a request of `who` (as `key`: its session, or a client without
    /// one) come in? 503 with `Retry-After` if not. Takes no slot: a
    /// request that does work still waits for one when it runs.
    pub fn arrive(&self, who: &Principal, key: &str) -> Result<(), TransportError> {
        let limit = self.0.config.load().shed_delay_ms;
        let shed = limit > 0 && self.0.delay.current().as_millis() >= u128::from(limit);
        let refused = if shed {
            Err(Rejected::Shed)
        } else {
            self.admission().check(ticket(who, key))
        };
        refused.map_err(|rejected| {
            self.metrics().requests.rejected(rejected.reason());
            self.metrics()
                .tenants
                .rejected(&who.tenant.id, rejected.reason());
            TransportError::Overloaded(rejected)
        })
    }

    /// The runtime's scheduling delay last measured (zero while
    /// `shed_delay_ms` is 0).
    pub fn delay(&self) -> std::time::Duration {
        self.0.delay.current()
    }
}
