//! Server events between the nodes of a cluster: [`ClusterEvents`], the
//! catalog's event bus on a cluster. Server events (list changes, resource
//! updates) published on one node's catalog bus reach every node's catalog
//! bus, so GET streams and `subscriptions/listen` streams anywhere hear
//! them. They travel merged while the bus is busy (see `relay`), and wait
//! for room on it (`wait_for_room`), so a flood never takes the room of
//! answers and cancellations.

use std::sync::Arc;
use std::time::Duration;

use switchboard_runtime::{EventBatch, EventBus, LocalBus, ServerEvent, Subscription};
use switchboard_store::{BusMessage, SessionBus};
use tokio::sync::broadcast::{self, error::RecvError};

/// The catalog's event bus on a cluster: events published here go to this
/// node's listeners and to the other nodes; the other nodes' events come
/// to this node's listeners.
#[derive(Debug)]
pub struct ClusterEvents {
    /// This node's listeners: its own events and the other nodes'.
    local: Arc<LocalBus>,
    /// The events published on this node only: listened to by `fanout`
    /// and by [`relay`].
    origin: LocalBus,
}

impl ClusterEvents {
    /// Start forwarding the other nodes' events to this node's listeners,
    /// and this node's to the other nodes (needs a Tokio runtime).
    pub fn new(bus: Arc<dyn SessionBus>) -> Arc<Self> {
        let local = Arc::new(LocalBus::default());
        tokio::spawn(forward(bus.subscribe(), local.clone()));
        let origin = LocalBus::default();
        tokio::spawn(relay(origin.subscribe(), bus));
        Arc::new(Self { local, origin })
    }

    /// The events published on this node from now on, not the other
    /// nodes'.
    pub(crate) fn origin(&self) -> Subscription {
        self.origin.subscribe()
    }
}

/// Room on the bus's outgoing queue kept for messages that cannot wait or
/// merge (answers, cancellations, stream announcements, session ends):
/// server events and their fan-out's announcements wait while less is
/// free.
const BULK_RESERVE: usize = 256;
/// The longest pause between two looks at the bus's room.
const MAX_ROOM_PAUSE: Duration = Duration::from_millis(100);

/// Wait until the bus has room for a message that can wait (see
/// [`BULK_RESERVE`]).
pub(crate) async fn wait_for_room(bus: &dyn SessionBus) {
    let mut pause = Duration::from_millis(1);
    while bus.room() < BULK_RESERVE {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_ROOM_PAUSE);
    }
}

/// Carry this node's own events to the other nodes. What is published
/// while the bus is busy merges in the subscription (an event waiting
/// absorbs its copies), so a flood costs the bus one message per distinct
/// event per round, and never the room of other messages.
async fn relay(mut events: Subscription, bus: Arc<dyn SessionBus>) {
    while let Some(batch) = events.recv().await {
        for message in messages_of(batch) {
            wait_for_room(&*bus).await;
            bus.publish(message);
        }
    }
}

/// The bus messages of a batch: one per event, and "any resource may have
/// changed" as a resource update without a URI.
fn messages_of(batch: EventBatch) -> Vec<BusMessage> {
    let every = batch.every_resource.then(|| BusMessage::Server {
        method: switchboard_proto::methods::RESOURCES_UPDATED.to_owned(),
        uri: None,
    });
    let events = batch.events.into_iter().map(|e| {
        let method = e.method().to_owned();
        let uri = match e {
            ServerEvent::ResourceUpdated { uri } => Some(uri),
            _ => None,
        };
        BusMessage::Server { method, uri }
    });
    events.chain(every).collect()
}

/// Publish the other nodes' events to this node's listeners. After
/// missing some (the receiver fell behind), tell every listener anything
/// may have changed: they re-announce what they follow rather than lose
/// an event.
async fn forward(mut rx: broadcast::Receiver<Arc<BusMessage>>, local: Arc<LocalBus>) {
    loop {
        match rx.recv().await {
            Ok(m) => {
                if let BusMessage::Server { method, uri } = &*m
                    && let Some(batch) = batch_of(method, uri.as_deref())
                {
                    local.publish_batch(&batch);
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(skipped = n, "server events fell behind; resynchronising");
                local.publish_batch(&EventBatch::everything());
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// What a `server` bus message says (see [`messages_of`]).
fn batch_of(method: &str, uri: Option<&str>) -> Option<EventBatch> {
    use switchboard_proto::methods::*;
    let event = match (method, uri) {
        (RESOURCES_UPDATED, None) => {
            return Some(EventBatch {
                events: Vec::new(),
                every_resource: true,
            });
        }
        (RESOURCES_UPDATED, Some(uri)) => ServerEvent::ResourceUpdated {
            uri: uri.to_owned(),
        },
        (TOOLS_LIST_CHANGED, _) => ServerEvent::ToolsListChanged,
        (PROMPTS_LIST_CHANGED, _) => ServerEvent::PromptsListChanged,
        (RESOURCES_LIST_CHANGED, _) => ServerEvent::ResourcesListChanged,
        _ => return None,
    };
    Some(EventBatch {
        events: vec![event],
        every_resource: false,
    })
}

impl EventBus for ClusterEvents {
    fn publish(&self, event: ServerEvent) {
        self.origin.publish(event.clone());
        self.local.publish(event);
    }

    fn subscribe(&self) -> Subscription {
        self.local.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_survives_the_bus() {
        let batch = EventBatch {
            events: vec![
                ServerEvent::ResourceUpdated {
                    uri: "a://b".into(),
                },
                ServerEvent::ToolsListChanged,
                ServerEvent::PromptsListChanged,
                ServerEvent::ResourcesListChanged,
            ],
            every_resource: true,
        };
        let mut heard = switchboard_runtime::PendingEvents::default();
        for m in messages_of(batch.clone()) {
            let BusMessage::Server { method, uri } = m else {
                panic!("{m:?}")
            };
            heard.add_batch(batch_of(&method, uri.as_deref()).expect("understood"));
        }
        // "Any resource" absorbs the update of a://b, as it would have.
        let mut want = switchboard_runtime::PendingEvents::default();
        want.add_batch(batch);
        assert_eq!(heard.take(), want.take());
        assert_eq!(batch_of("notifications/other", None), None);
    }

    /// A bus whose free room the test sets, recording what is published.
    #[derive(Debug)]
    struct RoomBus {
        room: std::sync::atomic::AtomicUsize,
        sent: parking_lot::Mutex<Vec<BusMessage>>,
        incoming: broadcast::Sender<Arc<BusMessage>>,
    }

    impl SessionBus for RoomBus {
        fn publish(&self, message: BusMessage) -> bool {
            self.sent.lock().push(message);
            true
        }
        fn subscribe(&self) -> broadcast::Receiver<Arc<BusMessage>> {
            self.incoming.subscribe()
        }
        fn room(&self) -> usize {
            self.room.load(std::sync::atomic::Ordering::Relaxed)
        }
    }

    /// A flood waits, merged, while the bus has no room to spare, and
    /// then costs it one message per distinct event.
    #[tokio::test]
    async fn the_relay_merges_a_flood_and_leaves_the_room_to_others() {
        use std::sync::atomic::Ordering;
        let bus = Arc::new(RoomBus {
            room: 0.into(),
            sent: Default::default(),
            incoming: broadcast::channel(1).0,
        });
        let origin = LocalBus::default();
        tokio::spawn(relay(origin.subscribe(), bus.clone()));
        let update = |uri: &str| ServerEvent::ResourceUpdated { uri: uri.into() };
        // One thread: the relay first runs at the sleep, after the flood.
        for _ in 0..10_000 {
            origin.publish(update("noisy"));
        }
        origin.publish(update("quiet"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(bus.sent.lock().is_empty(), "sent without room");

        bus.room.store(BULK_RESERVE, Ordering::Relaxed);
        for _ in 0..1000 {
            if bus.sent.lock().len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let server = |uri: &str| BusMessage::Server {
            method: switchboard_proto::methods::RESOURCES_UPDATED.to_owned(),
            uri: Some(uri.to_owned()),
        };
        // 10,001 events merged: one message per distinct event.
        let want = [server("noisy"), server("quiet")];
        assert_eq!(*bus.sent.lock(), want);
    }
}
