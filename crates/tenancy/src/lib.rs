//! Switchboard's tenancy: who a request comes from and what it may do.
//!
//! - [`tenants`]: every configured tenant and the ways to authenticate as
//!   one ([`Tenants`]), compiled from `[auth]` and `[[tenants]]`; the
//!   endpoint's resource and metadata URLs.
//! - [`tenant`]: one compiled [`Tenant`], and the [`Principal`] a request
//!   comes from (proven [`Via`] an API key, a JWT or nothing).
//! - [`policy`]: a tenant's compiled [`Policy`] (tools, resources, prompts,
//!   the scopes tools need).
//! - [`gate`]: the [`Gate`] every request passes — authentication, scopes,
//!   rates, admission, finished requests, stream and session quotas,
//!   security events.
//! - [`capacity`]: node-local quota counts ([`Capacity`], [`Held`]), the
//!   quotas a new session must fit and the keys they are counted under.
//!
//! This crate may use `switchboard-config`, `switchboard-observe`,
//! `switchboard-http` (transport errors), `switchboard-auth`,
//! `switchboard-limits`, `switchboard-runtime` (the catalog, the caller),
//! `switchboard-store` (quotas), `switchboard-proto` and
//! `switchboard-telemetry`, and no other part of Switchboard; sessions,
//! tasks, the fronts and the app use it.

#![warn(missing_docs)]

pub mod capacity;
pub mod gate;
mod hooks;
pub mod policy;
#[cfg(test)]
mod proptest_cases;
pub mod servers;
pub mod tenant;
pub mod tenants;

pub use capacity::{Capacity, Held};
pub use gate::Gate;
pub use policy::Policy;
pub use servers::{Curated, VirtualServer};
/// The admission permit [`Gate::pass`] and [`Gate::admit`] hand out: held
/// while the request runs, given back when dropped.
pub use switchboard_limits::Permit;
pub use tenant::{Principal, Tenant, Via};
pub use tenants::{AuthFailure, METADATA_PATH, Tenants};
