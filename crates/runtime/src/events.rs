//! Server-initiated events (resource updates, list changes) and the bus
//! that carries them to every session that should hear of them.

use std::fmt;

use tokio::sync::broadcast;

/// Something changed on the server side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The resource at `uri` changed (`notifications/resources/updated`).
    ResourceUpdated {
        uri: String,
    },
    ToolsListChanged,
    PromptsListChanged,
    ResourcesListChanged,
}

impl ServerEvent {
    /// The notification method this event becomes.
    pub fn method(&self) -> &'static str {
        use switchboard_proto::methods::*;
        match self {
            Self::ResourceUpdated { .. } => RESOURCES_UPDATED,
            Self::ToolsListChanged => TOOLS_LIST_CHANGED,
            Self::PromptsListChanged => PROMPTS_LIST_CHANGED,
            Self::ResourcesListChanged => RESOURCES_LIST_CHANGED,
        }
    }
}

/// Fan-out of server events to whoever listens (every node's transports).
/// The in-process bus is the default; a shared bus (Redis) lets events
/// published on one node reach sessions on another.
pub trait EventBus: Send + Sync + fmt::Debug + 'static {
    fn publish(&self, event: ServerEvent);
    fn subscribe(&self) -> broadcast::Receiver<ServerEvent>;
}

/// The in-process bus: a bounded broadcast channel. A listener that falls
/// more than `capacity` events behind skips the oldest.
#[derive(Debug)]
pub struct LocalBus {
    tx: broadcast::Sender<ServerEvent>,
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity.max(1)).0,
        }
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl EventBus for LocalBus {
    fn publish(&self, event: ServerEvent) {
        let _ = self.tx.send(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<ServerEvent> {
        self.tx.subscribe()
    }
}
