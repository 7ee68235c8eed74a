//! The bearer token a client presented, kept for the request only so the
//! gateway can exchange it for an upstream's own (RFC 8693).

use crate::Secret;

/// A client's verified JWT and when it expires. Never sent upstream and
/// never shown: only a token exchange at the identity provider reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientToken {
    /// The token itself.
    pub token: Secret,
    /// Its `exp`, in seconds since the Unix epoch: nothing obtained with
    /// it is used past it.
    pub expires_at: u64,
}
