//! Every live session on this node ([`Registry`]).

use std::sync::Arc;

use crate::live::LiveSession;

/// Every live session on this node.
#[derive(Debug, Default)]
pub struct Registry {
    /// Keyed by session ids, which this server made (foldhash: SipHash
    /// was a visible share of a call).
    map: papaya::HashMap<Arc<str>, Arc<LiveSession>, foldhash::fast::RandomState>,
}

impl Registry {
    /// The live part of a session, created (and set up by `init`) if this
    /// node has not seen the session yet.
    pub fn get_or_create(&self, id: &str, init: impl FnOnce(&LiveSession)) -> Arc<LiveSession> {
        let map = self.map.pin();
        if let Some(s) = map.get(id) {
            return s.clone();
        }
        map.get_or_insert_with(Arc::from(id), || {
            let live = LiveSession::new(id);
            init(&live);
            Arc::new(live)
        })
        .clone()
    }

    /// The live part of a session, if this node holds one.
    pub fn get(&self, id: &str) -> Option<Arc<LiveSession>> {
        self.map.pin().get(id).cloned()
    }

    /// Call `f` on every live session on this node (without collecting
    /// them first).
    pub fn each(&self, mut f: impl FnMut(&Arc<LiveSession>)) {
        for live in self.map.pin().values() {
            f(live);
        }
    }

    /// Every live session on this node.
    pub fn all(&self) -> Vec<Arc<LiveSession>> {
        self.map.pin().values().cloned().collect()
    }

    /// Take session `id` out of this node's registry.
    pub fn remove(&self, id: &str) -> Option<Arc<LiveSession>> {
        self.map.pin().remove(id).cloned()
    }

    /// How many sessions are live on this node.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no session is live on this node.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
