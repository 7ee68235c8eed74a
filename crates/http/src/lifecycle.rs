//! The node's lifecycle: the token cancelled when it begins to shut down,
//! the flag an operator sets to drain it, its name and when it started.
//! One handle, cheap to clone, handed to whatever needs to know.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

#[derive(Debug)]
struct Inner {
    shutdown: CancellationToken,
    draining: AtomicBool,
    node_id: String,
    started_ms: u64,
}

/// The node's lifecycle handle; every clone sees the same node.
#[derive(Debug, Clone)]
pub struct Lifecycle(Arc<Inner>);

impl Lifecycle {
    /// A node named `node_id`, started now, neither draining nor stopping.
    pub fn new(node_id: String) -> Self {
        Self(Arc::new(Inner {
            shutdown: CancellationToken::new(),
            draining: AtomicBool::new(false),
            node_id,
            started_ms: switchboard_store::now_ms(),
        }))
    }

    /// Cancelled when the node begins to shut down.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.0.shutdown
    }

    /// Refuse new sessions from now on; existing ones keep working.
    pub fn drain(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    /// Whether [`Lifecycle::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    /// This node's name (`[admin] node_id`).
    pub fn node_id(&self) -> &str {
        &self.0.node_id
    }

    /// When the node started, unix milliseconds.
    pub fn started_ms(&self) -> u64 {
        self.0.started_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clone_sees_the_same_node() {
        let a = Lifecycle::new("n1".into());
        let b = a.clone();
        assert!(!b.is_draining() && !b.shutdown().is_cancelled());
        a.drain();
        a.shutdown().cancel();
        assert!(b.is_draining() && b.shutdown().is_cancelled());
        assert_eq!(b.node_id(), "n1");
        assert!(b.started_ms() > 0);
    }
}
