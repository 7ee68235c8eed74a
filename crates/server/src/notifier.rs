//! Delivery of server events (resource updates, list changes) to the
//! standalone streams of this node's sessions.

use std::sync::Arc;

use serde_json::json;
use switchboard_proto::notification_json;
use switchboard_runtime::ServerEvent;
use tokio::sync::broadcast::error::RecvError;

use crate::app::App;
use crate::live::{LiveSession, STANDALONE};

/// Listen on the catalog's bus until it closes.
pub(crate) async fn run(app: App) {
    let mut rx = app.catalog().bus().subscribe();
    loop {
        match rx.recv().await {
            Ok(event) => deliver(&app, &event).await,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(skipped = n, "server event listener fell behind")
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Send one event to every session of this node that should hear it: a
/// resource update to its subscribers, a list change to everyone. Only
/// sessions that opened their standalone stream receive anything.
///
/// On a cluster every node hears every event, and a session's live part may
/// exist on several nodes. A GET stream there is fed by the node producing
/// the event (`fanout`), not from here; what is left is a stream logged by
/// the node holding it (the 2024-11-05 transport's): only the node it is
/// attached to logs and sends the event (so it is logged once), and the
/// subscriptions are read from the store (another node may have changed
/// them).
pub(crate) async fn deliver(app: &App, event: &ServerEvent) {
    let params = match event {
        ServerEvent::ResourceUpdated { uri } => json!({"uri": uri}),
        _ => json!({}),
    };
    let data: Arc<str> = Arc::from(notification_json(event.method(), &params));
    let cluster = app.session_bus().is_some();
    for live in app.registry().all() {
        let wanted = if cluster {
            clustered_wants(app, &live, event).await
        } else {
            wants(&live, event)
        };
        if wanted {
            send(app, &live, data.clone()).await;
        }
    }
}

async fn clustered_wants(app: &App, live: &LiveSession, event: &ServerEvent) -> bool {
    let Some(slot) = live.standalone_if_open() else {
        return false;
    };
    if !slot.takes_local_events().await {
        return false;
    }
    let ServerEvent::ResourceUpdated { uri } = event else {
        return true;
    };
    match app.store().load(&live.id).await {
        Ok(Some(record)) => {
            live.set_subscriptions(&record.subscriptions);
            live.is_subscribed(uri)
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a session's subscriptions");
            live.is_subscribed(uri)
        }
    }
}

fn wants(live: &LiveSession, event: &ServerEvent) -> bool {
    match event {
        ServerEvent::ResourceUpdated { uri } => live.is_subscribed(uri),
        _ => true,
    }
}

async fn send(app: &App, live: &LiveSession, data: Arc<str>) {
    let Some(slot) = live.standalone_if_open() else {
        return;
    };
    if let Err(e) = slot.emit(app.event_log(), &live.id, STANDALONE, data).await {
        tracing::warn!(error = %e, "event log append failed");
    }
}
