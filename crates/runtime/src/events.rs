//! Server-initiated events (resource updates, list changes) and the bus
//! that carries them to every listener (the transports' notifiers, each
//! `subscriptions/listen` stream, the stdio front).
//!
//! The bus loses nothing for a listener, however far behind it is: each
//! listener has its own [`PendingEvents`], where an event that is still
//! waiting absorbs its copies, so a flood of one event costs another
//! listener's events nothing and a listener's memory stays bounded.
//! Publishing never waits: it adds to each listener's set and wakes the
//! listener if the set was empty.

use std::fmt;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::event::ServerEvent;
use crate::pending::{EventBatch, PENDING_URIS, PendingEvents};

/// Fan-out of server events to whoever listens (every node's transports).
/// The in-process bus is the default; a shared bus (Redis) lets events
/// published on one node reach sessions on another.
pub trait EventBus: Send + Sync + fmt::Debug + 'static {
    /// Tell every listener (never waits).
    fn publish(&self, event: ServerEvent);
    /// A new listener: it hears what is published from now on.
    fn subscribe(&self) -> Subscription;
}

/// One listener's inbox.
#[derive(Debug, Default)]
struct Inbox {
    state: Mutex<InboxState>,
    wake: Notify,
}

#[derive(Debug, Default)]
struct InboxState {
    pending: PendingEvents,
    /// The bus is gone: nothing more will come.
    closed: bool,
}

impl Inbox {
    fn new(limit: usize) -> Self {
        Self {
            state: Mutex::new(InboxState {
                pending: PendingEvents::new(limit),
                closed: false,
            }),
            wake: Notify::new(),
        }
    }

    /// Change the pending set; wake the listener if it was empty.
    fn add(&self, add: impl FnOnce(&mut PendingEvents)) {
        let mut st = self.state.lock();
        let was_empty = st.pending.is_empty();
        add(&mut st.pending);
        if was_empty && !st.pending.is_empty() {
            drop(st);
            self.wake.notify_one();
        }
    }

    fn close(&self) {
        self.state.lock().closed = true;
        self.wake.notify_one();
    }
}

/// A listener of a [`LocalBus`]: what was published since it last took,
/// merged (see the module). Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    inbox: Arc<Inbox>,
}

impl Subscription {
    /// The events waiting, once there are some; `None` once the bus is
    /// gone and everything was taken.
    pub async fn recv(&mut self) -> Option<EventBatch> {
        loop {
            {
                let mut st = self.inbox.state.lock();
                if let Some(batch) = st.pending.take() {
                    return Some(batch);
                }
                if st.closed {
                    return None;
                }
            }
            self.inbox.wake.notified().await;
        }
    }

    /// The events waiting now, if any.
    pub fn try_recv(&mut self) -> Option<EventBatch> {
        self.inbox.state.lock().pending.take()
    }
}

/// The in-process bus: each listener has a bounded set of what it has yet
/// to hear (see the module).
#[derive(Debug)]
pub struct LocalBus {
    listeners: Mutex<Vec<Weak<Inbox>>>,
    /// Distinct resource URIs each listener may have waiting.
    limit: usize,
}

impl LocalBus {
    /// A bus whose listeners each hold at most `uris` distinct resource
    /// URIs waiting (past that: "any resource may have changed").
    pub fn new(uris: usize) -> Self {
        Self {
            listeners: Mutex::default(),
            limit: uris.max(1),
        }
    }

    /// Add `batch` to every listener's set (another node's events, or
    /// [`EventBatch::everything`] after some may have been missed).
    pub fn publish_batch(&self, batch: &EventBatch) {
        self.each(|p| p.add_batch(batch.clone()));
    }

    /// Apply `add` to every listener's set, forgetting the listeners gone.
    fn each(&self, add: impl Fn(&mut PendingEvents)) {
        self.listeners.lock().retain(|w| match w.upgrade() {
            Some(inbox) => {
                inbox.add(&add);
                true
            }
            None => false,
        });
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new(PENDING_URIS)
    }
}

impl Drop for LocalBus {
    fn drop(&mut self) {
        for inbox in self.listeners.lock().iter().filter_map(Weak::upgrade) {
            inbox.close();
        }
    }
}

impl EventBus for LocalBus {
    fn publish(&self, event: ServerEvent) {
        self.each(|p| p.add(event.clone()));
    }

    fn subscribe(&self) -> Subscription {
        let inbox = Arc::new(Inbox::new(self.limit));
        self.listeners.lock().push(Arc::downgrade(&inbox));
        Subscription { inbox }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(uri: &str) -> ServerEvent {
        ServerEvent::ResourceUpdated { uri: uri.into() }
    }

    /// A flood of one event leaves a slow listener one copy of it, and
    /// every other event: nothing is skipped, whatever the flood's size.
    #[tokio::test]
    async fn a_flood_costs_a_slow_listener_no_other_event() {
        let bus = LocalBus::default();
        let mut slow = bus.subscribe();
        for i in 0..100_000 {
            bus.publish(update("noisy"));
            if i % 10_000 == 0 {
                bus.publish(update(&format!("quiet/{i}")));
            }
        }
        bus.publish(ServerEvent::ToolsListChanged);
        let batch = slow.recv().await.expect("events");
        let mut want = vec![update("noisy")];
        want.extend((0..10).map(|i| update(&format!("quiet/{}", i * 10_000))));
        want.push(ServerEvent::ToolsListChanged);
        // Each where it was first published.
        assert_eq!(batch.events, want);
        assert!(!batch.every_resource);
        assert!(slow.try_recv().is_none(), "all taken at once");
    }

    #[tokio::test]
    async fn listeners_are_independent_and_end_with_the_bus() {
        let bus = LocalBus::new(2);
        let (mut a, mut b) = (bus.subscribe(), bus.subscribe());
        bus.publish(update("x"));
        assert_eq!(a.recv().await.unwrap().events, [update("x")]);
        for uri in ["y", "z"] {
            bus.publish(update(uri));
        }
        let far_behind = b.recv().await.unwrap();
        assert!(far_behind.every_resource, "past 2 URIs: any resource");
        assert!(far_behind.events.is_empty());
        assert_eq!(a.recv().await.unwrap().events, [update("y"), update("z")]);

        drop(a);
        bus.publish(ServerEvent::PromptsListChanged);
        assert_eq!(
            bus.listeners.lock().len(),
            1,
            "a dropped listener is forgotten"
        );
        bus.publish_batch(&EventBatch::everything());
        drop(bus);
        let last = b.recv().await.expect("what was published before the end");
        assert_eq!(last.events.len(), 3);
        assert!(last.every_resource);
        assert!(b.recv().await.is_none(), "the bus is gone");
    }

    #[tokio::test]
    async fn a_waiting_listener_wakes_on_publish() {
        let bus = Arc::new(LocalBus::default());
        let mut sub = bus.subscribe();
        let waiter = tokio::spawn(async move { sub.recv().await });
        tokio::task::yield_now().await;
        bus.publish(ServerEvent::ResourcesListChanged);
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got.events, [ServerEvent::ResourcesListChanged]);
    }
}
