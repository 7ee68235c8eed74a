//! Admission control and rate limiting for Switchboard.
//!
//! [`Admission`] caps the work running at once. Requests beyond the cap wait
//! in a bounded queue, for at most a deadline, and are let in fairly: the
//! queue holds one line per tenant and, within it, one per key (a session or
//! client). A freed slot goes to the next tenant in deficit round-robin
//! order (a tenant's weight is its grants per round), and within a tenant to
//! its next key in turn, so a key or tenant that floods requests gets its
//! turn like every other instead of starving them. A tenant may also cap its
//! own running requests; at its cap it waits while others use free slots.
//!
//! [`Arrivals`] counts the requests in hand from their arrival, before
//! their body is read, so a flood that never reaches the handlers is still
//! seen and refused at the door, fairly across tenants.
//!
//! [`Delay`] measures how late the runtime runs a ready task, the queue in
//! front of admission that a flood of connections builds.
//!
//! [`RateLimiter`] answers "may `key` do one more now?" by the generic cell
//! rate algorithm; [`MemoryRateLimiter`] keeps its state in this process.

#![warn(missing_docs)]

mod admission;
mod arrivals;
mod breaker;
mod delay;
mod rate;

pub use admission::{Admission, AdmissionStats, Permit, Rejected, Slots, TenantStats, Ticket};
pub use arrivals::{Arrivals, Arrived, Bounds, STANDING};
pub use breaker::{Attempt, Breaker, BreakerConfig, BreakerState};
pub use delay::Delay;
pub use rate::{Decision, LimiterError, MemoryRateLimiter, Rate, RateLimiter};
