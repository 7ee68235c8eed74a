//! Who a request comes from, and what they may see and use.

use std::fmt;
use std::sync::Arc;

/// What a caller may see and use: its tenant's policy. Lists show only what
/// is allowed; anything else is answered exactly like something that does
/// not exist.
pub trait Access: Send + Sync + fmt::Debug {
    /// Whether the tool `name` is visible and callable.
    fn tool(&self, name: &str) -> bool;
    /// Whether the resource `uri` (or a template's `uriTemplate`) is visible
    /// and readable.
    fn resource(&self, uri: &str) -> bool;
    /// Whether the prompt `name` is visible and usable.
    fn prompt(&self, name: &str) -> bool;
}

/// Everything is allowed: the policy when no tenant policy applies.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Access for AllowAll {
    fn tool(&self, _: &str) -> bool {
        true
    }
    fn resource(&self, _: &str) -> bool {
        true
    }
    fn prompt(&self, _: &str) -> bool {
        true
    }
}

/// The authenticated (or anonymous) caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant the caller belongs to.
    pub tenant: Arc<str>,
    /// Who the caller is within its tenant (an API key's id, a token's `sub`).
    pub subject: Arc<str>,
    /// The session the request belongs to (none in the stateless era).
    pub session: Option<Arc<str>>,
    /// What the caller may see and use.
    pub access: Arc<dyn Access>,
    /// Upstream processes the caller's tenant may hold at once (the
    /// gateway enforces it), if it has a cap.
    pub max_upstream_processes: Option<usize>,
    /// The JWT the caller authenticated with, for an upstream whose
    /// credentials are exchanged for it (RFC 8693); none for API keys,
    /// anonymous callers and work the server runs on its own.
    pub token: Option<Arc<switchboard_secret::ClientToken>>,
}

impl Caller {
    /// The caller of a server with no tenants: anonymous, allowed everything.
    pub fn anonymous() -> Self {
        Self {
            tenant: Arc::from("anonymous"),
            subject: Arc::from("anonymous"),
            session: None,
            access: Arc::new(AllowAll),
            max_upstream_processes: None,
            token: None,
        }
    }
}

impl Default for Caller {
    fn default() -> Self {
        Self::anonymous()
    }
}
