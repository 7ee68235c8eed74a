//! A session's outbox of server events: what its standalone stream has
//! yet to get, merged and bounded, and whether a delivery must start.

use parking_lot::Mutex;
use switchboard_runtime::{EventBatch, PendingEvents, ServerEvent};

/// What a session's standalone stream has yet to get: a set while a task
/// delivers it, nothing (one word) while the session is idle.
#[derive(Debug, Default)]
pub struct Outbox(Mutex<Option<Box<PendingEvents>>>);

impl Outbox {
    /// Queue the events of `batch` that `wants` keeps (and "any resource
    /// may have changed" if `any_resource`); true when the caller must
    /// start the delivery (something is queued and nobody delivers).
    pub fn add(
        &self,
        batch: &EventBatch,
        wants: impl Fn(&ServerEvent) -> bool,
        any_resource: bool,
    ) -> bool {
        let mut wanted = batch.events.iter().filter(|e| wants(e)).peekable();
        if !any_resource && wanted.peek().is_none() {
            return false;
        }
        let mut st = self.0.lock();
        let start = st.is_none();
        let pending = st.get_or_insert_with(Box::default);
        if any_resource {
            pending.mark_every_resource();
        }
        for e in wanted {
            pending.add(e.clone());
        }
        start
    }

    /// The events to deliver next; `None` (and the delivery is over) once
    /// nothing is queued.
    pub fn next(&self) -> Option<EventBatch> {
        let mut st = self.0.lock();
        let batch = st.as_mut().and_then(|p| p.take());
        if batch.is_none() {
            *st = None;
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_asks_for_one_delivery_at_a_time() {
        let outbox = Outbox::default();
        let batch = EventBatch {
            events: vec![
                ServerEvent::ToolsListChanged,
                ServerEvent::ResourceUpdated { uri: "a".into() },
            ],
            every_resource: false,
        };
        let lists = |e: &ServerEvent| !matches!(e, ServerEvent::ResourceUpdated { .. });
        assert!(
            !outbox.add(&EventBatch::default(), |_| true, false),
            "nothing queued"
        );
        assert!(outbox.add(&batch, lists, false), "start a delivery");
        assert!(!outbox.add(&batch, |_| true, false), "one is running");
        let first = outbox.next().expect("queued events");
        assert_eq!(first.events, batch.events, "merged, in order");
        assert!(outbox.next().is_none(), "empty: the delivery ends");
        assert!(outbox.add(&batch, lists, true), "a new delivery");
        let second = outbox.next().unwrap();
        assert_eq!(second.events, [ServerEvent::ToolsListChanged]);
        assert!(second.every_resource);
    }
}
