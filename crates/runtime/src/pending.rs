//! What one listener of server events has yet to hear: each distinct event
//! once, in the order it was first published. A list change means "list
//! again" and a resource update "read this URI again", so a second copy of
//! an event that is still waiting says nothing the first does not: it is
//! merged into it. The set is bounded: past its limit of distinct resource
//! URIs it keeps one mark, "any resource may have changed", and the
//! listener announces every URI it follows.

use indexmap::IndexSet;

use crate::event::ServerEvent;

/// Distinct resource URIs a listener may have waiting before they merge
/// into "any resource may have changed".
pub const PENDING_URIS: usize = 1024;

/// Events waiting for one listener, merged and bounded (see the module).
#[derive(Debug)]
pub struct PendingEvents {
    events: IndexSet<ServerEvent>,
    /// How many of `events` are resource updates.
    uris: usize,
    every_resource: bool,
    limit: usize,
}

impl Default for PendingEvents {
    fn default() -> Self {
        Self::new(PENDING_URIS)
    }
}

impl PendingEvents {
    /// An empty set that holds at most `limit` distinct resource URIs.
    pub fn new(limit: usize) -> Self {
        Self {
            events: IndexSet::new(),
            uris: 0,
            every_resource: false,
            limit: limit.max(1),
        }
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && !self.every_resource
    }

    /// Add `event` unless it is waiting already (or covered by "any
    /// resource may have changed").
    pub fn add(&mut self, event: ServerEvent) {
        if !matches!(event, ServerEvent::ResourceUpdated { .. }) {
            self.events.insert(event);
            return;
        }
        if self.every_resource || self.events.contains(&event) {
            return;
        }
        if self.uris < self.limit {
            self.events.insert(event);
            self.uris += 1;
        } else {
            self.mark_every_resource();
        }
    }

    /// Add every event of `batch`.
    pub fn add_batch(&mut self, batch: EventBatch) {
        if batch.every_resource {
            self.mark_every_resource();
        }
        for e in batch.events {
            self.add(e);
        }
    }

    /// "Any resource may have changed": the updates waiting merge into it.
    pub fn mark_every_resource(&mut self) {
        self.every_resource = true;
        self.events.retain(|e| !is_resource(e));
        self.uris = 0;
    }

    /// Everything waiting, which is then empty; `None` if nothing was.
    pub fn take(&mut self) -> Option<EventBatch> {
        if self.is_empty() {
            return None;
        }
        let events = std::mem::take(&mut self.events).into_iter().collect();
        self.uris = 0;
        let every_resource = std::mem::replace(&mut self.every_resource, false);
        Some(EventBatch {
            events,
            every_resource,
        })
    }
}

fn is_resource(e: &ServerEvent) -> bool {
    matches!(e, ServerEvent::ResourceUpdated { .. })
}

/// Events a listener takes at once from its [`PendingEvents`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventBatch {
    /// Distinct events, in the order they were first published.
    pub events: Vec<ServerEvent>,
    /// More distinct resources changed than the set holds: the listener
    /// must treat every resource it follows as updated.
    pub every_resource: bool,
}

impl EventBatch {
    /// A batch that says anything may have changed: every list and every
    /// resource (what a listener that may have missed events hears).
    pub fn everything() -> Self {
        Self {
            events: vec![
                ServerEvent::ToolsListChanged,
                ServerEvent::PromptsListChanged,
                ServerEvent::ResourcesListChanged,
            ],
            every_resource: true,
        }
    }

    /// Whether the batch has a resource update (or "any resource may have
    /// changed").
    pub fn has_resource_updates(&self) -> bool {
        self.every_resource || self.events.iter().any(is_resource)
    }

    /// The events for a listener following the resources `followed` (read
    /// only when needed): those of the batch, then, if any resource may have
    /// changed, an update of each followed URI not among them. The listener
    /// still filters them by what it wants.
    pub fn resolve(self, followed: impl FnOnce() -> Vec<String>) -> Vec<ServerEvent> {
        let mut events = self.events;
        if self.every_resource {
            let named: std::collections::HashSet<ServerEvent> =
                events.iter().filter(|e| is_resource(e)).cloned().collect();
            for uri in followed() {
                let e = ServerEvent::ResourceUpdated { uri };
                if !named.contains(&e) {
                    events.push(e);
                }
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(uri: &str) -> ServerEvent {
        ServerEvent::ResourceUpdated { uri: uri.into() }
    }

    #[test]
    fn waiting_copies_merge_in_first_publication_order() {
        let mut p = PendingEvents::default();
        assert!(p.is_empty() && p.take().is_none());
        for e in [
            update("a"),
            ServerEvent::ToolsListChanged,
            update("b"),
            update("a"),
            ServerEvent::ToolsListChanged,
            ServerEvent::PromptsListChanged,
        ] {
            p.add(e);
        }
        let batch = p.take().expect("a batch");
        assert_eq!(
            batch.events,
            [
                update("a"),
                ServerEvent::ToolsListChanged,
                update("b"),
                ServerEvent::PromptsListChanged
            ]
        );
        assert!(!batch.every_resource);
        assert!(p.is_empty(), "taken");
        p.add(update("a"));
        assert_eq!(p.take().unwrap().events, [update("a")], "waiting again");
    }

    #[test]
    fn past_the_limit_updates_become_any_resource() {
        let mut p = PendingEvents::new(3);
        p.add(ServerEvent::ResourcesListChanged);
        for uri in ["a", "b", "c", "d", "e"] {
            p.add(update(uri));
        }
        p.add(ServerEvent::ToolsListChanged);
        let batch = p.take().unwrap();
        assert_eq!(
            batch.events,
            [
                ServerEvent::ResourcesListChanged,
                ServerEvent::ToolsListChanged
            ],
            "the URIs merged into the mark"
        );
        assert!(batch.every_resource);
        let followed = || vec!["x".to_owned(), "y".to_owned()];
        assert_eq!(
            batch.resolve(followed),
            [
                ServerEvent::ResourcesListChanged,
                ServerEvent::ToolsListChanged,
                update("x"),
                update("y")
            ]
        );
    }

    #[test]
    fn resolving_names_each_followed_uri_once() {
        let batch = EventBatch {
            events: vec![update("x")],
            every_resource: true,
        };
        assert!(batch.has_resource_updates());
        let followed = || vec!["x".to_owned(), "y".to_owned()];
        assert_eq!(batch.resolve(followed), [update("x"), update("y")]);
        let plain = EventBatch {
            events: vec![ServerEvent::ToolsListChanged],
            every_resource: false,
        };
        assert!(!plain.has_resource_updates());
        let never = || -> Vec<String> { panic!("not read without the mark") };
        assert_eq!(plain.resolve(never), [ServerEvent::ToolsListChanged]);
    }
}
