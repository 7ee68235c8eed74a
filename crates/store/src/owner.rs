//! Owners of sessions' stateful upstream processes across nodes: a
//! session's `per_session` stdio process lives on one node, recorded here
//! with a lease that node renews while it holds the process. Another node
//! reads the record to forward the session's calls there, and takes the
//! session over once the lease has lapsed (the owner died) or was released
//! (the owner drained). Only shared stores implement it; one node needs no
//! owners.

use std::fmt;
use std::time::Duration;

use crate::StoreError;

/// What [`SessionOwners::claim`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// No node owned the session: now the caller does.
    New,
    /// The caller owned it already; its lease is renewed.
    Mine,
    /// Node `from` owned it but its lease had lapsed or was released: now
    /// the caller owns it (the state of `from`'s process is lost).
    TookOver {
        /// The node that owned it before.
        from: String,
    },
    /// Another node owns it under a live lease, reachable at `url`.
    Other {
        /// The owning node's id.
        node: String,
        /// Where that node is reached.
        url: String,
    },
}

/// The owner records of sessions. Every call is atomic per session, on
/// the store's clock, so two nodes never both win a claim.
#[async_trait::async_trait]
pub trait SessionOwners: Send + Sync + fmt::Debug {
    /// Make `node` (reachable at `url`) the owner of `session` for `lease`
    /// unless another node holds a live lease.
    async fn claim(
        &self,
        session: &str,
        node: &str,
        url: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError>;

    /// Extend `node`'s lease on each of `sessions` it still owns; returns
    /// the sessions it no longer owns (taken over, or ended).
    async fn renew(
        &self,
        sessions: &[String],
        node: &str,
        lease: Duration,
    ) -> Result<Vec<String>, StoreError>;

    /// End `node`'s leases on `sessions` now (drain), so the next request
    /// anywhere takes them over at once.
    async fn release(&self, sessions: &[String], node: &str) -> Result<(), StoreError>;
}
