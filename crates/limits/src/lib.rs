//! Admission control for Switchboard.
//!
//! [`Admission`] caps the work running at once. Requests beyond the cap wait
//! in a bounded queue, for at most a deadline, and are let in fairly: the
//! queue holds one line per key (a session today, a tenant and its sessions
//! later), and a freed slot goes to the next key in round-robin order, so a
//! key that floods requests gets its turn like every other key instead of
//! starving them. Weights give a key that many turns per round.

mod admission;

pub use admission::{Admission, AdmissionStats, Permit, Rejected};
