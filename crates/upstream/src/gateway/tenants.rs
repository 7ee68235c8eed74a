//! Upstream processes counted per tenant across every upstream, for
//! tenants' `max_upstream_processes`.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

/// Upstream processes per tenant, across every upstream (shared by all
/// providers of one server), for tenants' `max_upstream_processes`.
#[derive(Debug, Clone, Default)]
pub struct TenantProcesses(Arc<Mutex<HashMap<String, usize>>>);

impl TenantProcesses {
    /// Processes `tenant` holds now.
    pub fn count(&self, tenant: &str) -> usize {
        self.0.lock().get(tenant).copied().unwrap_or(0)
    }

    /// Count one more for `tenant` unless it is at `max`.
    pub(crate) fn take(&self, tenant: &str, max: Option<usize>) -> Option<TenantSlot> {
        let mut map = self.0.lock();
        let n = map.entry(tenant.to_owned()).or_insert(0);
        if max.is_some_and(|m| *n >= m) {
            return None;
        }
        *n += 1;
        Some(TenantSlot {
            counts: self.clone(),
            tenant: tenant.to_owned(),
        })
    }
}

/// One process counted against a tenant, given back on drop.
#[derive(Debug)]
pub(crate) struct TenantSlot {
    counts: TenantProcesses,
    tenant: String,
}

impl Drop for TenantSlot {
    fn drop(&mut self) {
        let mut map = self.counts.0.lock();
        if let Some(n) = map.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.tenant);
            }
        }
    }
}
