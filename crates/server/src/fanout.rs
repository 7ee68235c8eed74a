//! Origin logging of server events on a cluster: the node where a server
//! event (a list change, a resource update) is produced appends it to the
//! standalone-stream log of every session that wants it — the sessions
//! registered in the store as having a GET stream
//! (`EventLog::register_standalone`), filtered by their stored resource
//! subscriptions —
//! then tells the other nodes on the bus which sequence number each got
//! (`BusMessage::Logged`), and the node holding a session's stream sends
//! exactly that event (`StreamSlot::deliver`). So an event produced while
//! no node holds the stream (its node was killed, the client is
//! reconnecting) is in the log for the client's `Last-Event-ID`.
//!
//! Runs only on a cluster (an app given `ClusterEvents`); a single node
//! logs on the node holding the stream (`notifier`), with no extra work.

use std::sync::Arc;

use futures_util::{StreamExt, stream};
use serde_json::json;
use switchboard_proto::notification_json;
use switchboard_runtime::ServerEvent;
use switchboard_store::BusMessage;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::app::App;
use crate::live::STANDALONE;

/// Store calls of one event in flight at once (over the one multiplexed
/// connection they pipeline).
const CONCURRENCY: usize = 64;
/// Sessions named in one bus message (bounds its size).
const PER_MESSAGE: usize = 256;

/// Log and route this node's own server events until the tap closes.
pub(crate) async fn run(app: App, mut origin: broadcast::Receiver<ServerEvent>) {
    loop {
        match origin.recv().await {
            Ok(event) => fan_out(&app, &event).await,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(skipped = n, "server event fan-out fell behind")
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Log `event` for every registered session that wants it, send it to the
/// streams held here, and name the others on the bus. Events of one node
/// are fanned out one after the other, so each session logs them in order.
async fn fan_out(app: &App, event: &ServerEvent) {
    let sessions = match app.event_log().standalone_sessions().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the sessions with a GET stream");
            return;
        }
    };
    let params = match event {
        ServerEvent::ResourceUpdated { uri } => json!({"uri": uri}),
        _ => json!({}),
    };
    let data: Arc<str> = Arc::from(notification_json(event.method(), &params));
    let logged: Vec<(String, u64)> = stream::iter(sessions)
        .map(|session| log_for(app, event, session, data.clone()))
        .buffer_unordered(CONCURRENCY)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    for (session, seq) in &logged {
        deliver(app, session, *seq, data.clone()).await;
    }
    if let Some(bus) = app.session_bus() {
        for to in logged.chunks(PER_MESSAGE) {
            bus.publish(BusMessage::Logged {
                data: data.to_string(),
                to: to.to_vec(),
            });
        }
    }
}

/// Append `data` to the session's standalone stream if it wants the
/// event; its sequence number there.
async fn log_for(
    app: &App,
    event: &ServerEvent,
    session: String,
    data: Arc<str>,
) -> Option<(String, u64)> {
    if let ServerEvent::ResourceUpdated { uri } = event {
        match app.store().load(&session).await {
            Ok(Some(record)) if record.subscriptions.iter().any(|s| s == uri) => {}
            Ok(_) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a session's subscriptions");
                return None;
            }
        }
    }
    match app.event_log().append(&session, STANDALONE, data).await {
        Ok(id) => Some((session, id.seq)),
        Err(e) => {
            tracing::warn!(error = %e, "event log append failed");
            None
        }
    }
}

/// Send event `seq` of a session's standalone stream to its connection,
/// if this node holds it.
pub(crate) async fn deliver(app: &App, session: &str, seq: u64, data: Arc<str>) {
    let Some(slot) = app
        .registry()
        .get(session)
        .and_then(|live| live.standalone_if_open())
    else {
        return;
    };
    if let Err(e) = slot.deliver(app.event_log(), session, seq, data).await {
        tracing::warn!(error = %e, "cannot read a session's event log");
    }
}
