//! Delivery of server events (resource updates, list changes) to the
//! standalone streams of this node's sessions.
//!
//! One listener on the catalog's bus hands each batch out without waiting
//! on any session: it adds what a session should hear to that session's
//! `Outbox` (merged and bounded, like the bus's own sets) and starts a
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

use std::sync::Arc;

use switchboard_proto::notification_json;
use switchboard_runtime::{EventBatch, ServerEvent};
use tokio_util::sync::CancellationToken;

use crate::live::LiveSession;
use crate::sessions::Sessions;
use crate::slot::{STANDALONE, StreamSlot};

impl Sessions {
    /// Deliver the catalog's server events to this node's sessions until
    /// the catalog's bus closes or `stop` is cancelled (a background
    /// service; deliveries already started run to their end).
    pub async fn run_notifier(self, stop: CancellationToken) {
        let mut events = self.catalog().bus().subscribe();
        let hand_outs = async {
            while let Some(batch) = events.recv().await {
                hand_out(&self, &batch);
            }
        };
        stop.run_until_cancelled(hand_outs).await;
    }
}

/// Queue `batch` for every session of this node that should hear it, and
/// start the delivery of those that had none running. Never waits.
fn hand_out(sessions: &Sessions, batch: &EventBatch) {
    let cluster = sessions.bus().is_some();
    sessions.registry().each(|live| {
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
            tokio::spawn(deliver(sessions.clone(), live.clone(), slot));
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
async fn deliver(sessions: Sessions, live: Arc<LiveSession>, slot: Arc<StreamSlot>) {
    while let Some(batch) = live.outbox.next() {
        if live.closed.is_cancelled() {
            continue; // the session ended: drop what is queued
        }
        for event in wanted(&sessions, &live, &slot, batch).await {
            let data = Arc::from(notification_json(event.method(), &event.params()));
            if let Err(e) = slot
                .emit(sessions.event_log(), &live.id, STANDALONE, data)
                .await
            {
                tracing::warn!(error = %e, "event log append failed");
            }
        }
    }
}

/// The events of `batch` the session hears: on a cluster only if its
/// stream is attached here, with its subscriptions read from the store.
async fn wanted(
    sessions: &Sessions,
    live: &LiveSession,
    slot: &StreamSlot,
    batch: EventBatch,
) -> Vec<ServerEvent> {
    if sessions.bus().is_some() {
        if !slot.takes_local_events().await {
            return Vec::new();
        }
        if batch.has_resource_updates() {
            match sessions.store().load(&live.id).await {
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
