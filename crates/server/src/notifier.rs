//! Delivery of server events (resource updates, list changes) to the
//! standalone streams of this node's sessions.
//!
//! One listener on the catalog's bus hands each batch out without waiting
//! on any session: it adds what a session should hear to that session's
//! [`Outbox`] (merged and bounded, like the bus's own sets) and starts a
//! delivery task for a session whose outbox was idle. That task logs and
//! sends the session's events (`StreamSlot::emit`) until the outbox is
//! empty, then ends. So a session slow to log, or a tenant that floods,
//! holds up no other session's events; no session loses one (a flood of
//! one event costs it one copy); and an idle session has no task.
//!
//! On a cluster every node hears every event, and a session's live part
//! may exist on several nodes. A GET stream there is fed by the node
//! producing the event (`fanout`), not from here; what is left is a stream
//! logged by the node holding it (the 2024-11-05 transport's): only the
//! node it is attached to logs and sends the event (so it is logged once),
//! and the subscriptions are read from the store (another node may have
//! changed them), once per batch.

use std::sync::{Arc, Mutex};

use switchboard_proto::notification_json;
use switchboard_runtime::{EventBatch, PendingEvents, ServerEvent};

use crate::app::App;
use crate::live::{LiveSession, STANDALONE, StreamSlot};

/// Listen on the catalog's bus until it closes.
pub(crate) async fn run(app: App) {
    let mut events = app.catalog().bus().subscribe();
    while let Some(batch) = events.recv().await {
        hand_out(&app, &batch);
    }
}

/// What a session's standalone stream has yet to get: a set while a task
/// delivers it, nothing (one word) while the session is idle.
#[derive(Debug, Default)]
pub(crate) struct Outbox(Mutex<Option<Box<PendingEvents>>>);

impl Outbox {
    /// Queue the events of `batch` that `wants` keeps (and "any resource
    /// may have changed" if `any_resource`); true when the caller must
    /// start the delivery (something is queued and nobody delivers).
    fn add(
        &self,
        batch: &EventBatch,
        wants: impl Fn(&ServerEvent) -> bool,
        any_resource: bool,
    ) -> bool {
        let mut wanted = batch.events.iter().filter(|e| wants(e)).peekable();
        if !any_resource && wanted.peek().is_none() {
            return false;
        }
        let mut st = lock(&self.0);
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
    fn next(&self) -> Option<EventBatch> {
        let mut st = lock(&self.0);
        let batch = st.as_mut().and_then(|p| p.take());
        if batch.is_none() {
            *st = None;
        }
        batch
    }
}

/// Queue `batch` for every session of this node that should hear it, and
/// start the delivery of those that had none running. Never waits.
fn hand_out(app: &App, batch: &EventBatch) {
    let cluster = app.session_bus().is_some();
    app.registry().each(|live| {
        let Some(slot) = live.standalone_if_open() else {
            return;
        };
        let start = if cluster {
            // Subscriptions are read from the store when delivering.
            !slot.is_fed() && live.outbox.add(batch, |_| true, batch.every_resource)
        } else {
            let any = batch.every_resource && live.has_subscriptions();
            live.outbox.add(batch, |e| wants(live, e), any)
        };
        if start {
            tokio::spawn(deliver(app.clone(), live.clone(), slot));
        }
    });
}

fn wants(live: &LiveSession, event: &ServerEvent) -> bool {
    match event {
        ServerEvent::ResourceUpdated { uri } => live.is_subscribed(uri),
        _ => true,
    }
}

/// Log and send a session's queued events until its outbox is empty.
async fn deliver(app: App, live: Arc<LiveSession>, slot: Arc<StreamSlot>) {
    while let Some(batch) = live.outbox.next() {
        if live.closed.is_cancelled() {
            continue; // the session ended: drop what is queued
        }
        for event in wanted(&app, &live, &slot, batch).await {
            let data = Arc::from(notification_json(event.method(), &event.params()));
            if let Err(e) = slot.emit(app.event_log(), &live.id, STANDALONE, data).await {
                tracing::warn!(error = %e, "event log append failed");
            }
        }
    }
}

/// The events of `batch` the session hears: on a cluster only if its
/// stream is attached here, with its subscriptions read from the store.
async fn wanted(
    app: &App,
    live: &LiveSession,
    slot: &StreamSlot,
    batch: EventBatch,
) -> Vec<ServerEvent> {
    if app.session_bus().is_some() {
        if !slot.takes_local_events().await {
            return Vec::new();
        }
        if batch.has_resource_updates() {
            match app.store().load(&live.id).await {
                Ok(Some(record)) => live.set_subscriptions(&record.subscriptions),
                Ok(None) => return Vec::new(),
                Err(e) => tracing::warn!(error = %e, "cannot read a session's subscriptions"),
            }
        }
    }
    let mut events = batch.resolve(|| live.subscriptions());
    events.retain(|e| wants(live, e));
    events
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
