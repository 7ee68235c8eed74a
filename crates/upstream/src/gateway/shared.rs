//! What every upstream of one server shares.

use std::sync::Arc;

use switchboard_identity::Vault;

use super::tenants::TenantProcesses;

/// What the upstreams of one server share, so those a reload adds share
/// it too.
#[derive(Debug, Clone, Default)]
pub struct UpstreamsShared {
    /// Tenants' processes, counted across every upstream (tenants'
    /// `max_upstream_processes` cover them all together).
    pub processes: TenantProcesses,
    /// The token vault, if `[vault]` has keys: tokens had for callers,
    /// sealed, where every node and a restart find them.
    pub vault: Option<Arc<Vault>>,
    /// Approved tool definitions (`pinning`), on the store every node
    /// shares (in memory by default).
    pub pins: super::PinBook,
}
