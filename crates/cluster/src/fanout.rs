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
//! Events come in merged batches (the origin tap is a subscription of a
//! `LocalBus`): while one batch is fanned out, what is published merges,
//! so a flood of one event costs each session one copy per round and no
//! other event is lost, however slow the store. Announcements wait for
//! room on the bus (`events::wait_for_room`), so a flood never takes the
//! room of answers and cancellations.
//!
//! Runs only on a cluster (a node given `ClusterEvents`); a single node
//! logs on the node holding the stream (`notifier`), with no extra work.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::{StreamExt, stream};
use switchboard_proto::notification_json;
use switchboard_runtime::{EventBatch, ServerEvent, Subscription};
use switchboard_session::{STANDALONE, Sessions};
use switchboard_store::BusMessage;

/// Store calls of one batch in flight at once (over the one multiplexed
/// connection they pipeline).
const CONCURRENCY: usize = 64;
/// Sessions named in one bus message (bounds its size).
const PER_MESSAGE: usize = 256;

/// Log and route this node's own server events until the tap closes.
pub(crate) async fn run(sessions: Sessions, mut origin: Subscription) {
    while let Some(batch) = origin.recv().await {
        fan_out(&sessions, batch).await;
    }
}

/// An event of a batch and its notification's text.
type Note = (ServerEvent, Arc<str>);

fn note(event: ServerEvent) -> Note {
    let data = Arc::from(notification_json(event.method(), &event.params()));
    (event, data)
}

/// What was logged for one session: each event's text and sequence number.
type Logged = (String, Vec<(Arc<str>, u64)>);

/// Log the events of `batch` for every registered session that wants
/// them, send them to the streams held here, and name the others on the
/// bus. Batches are fanned out one after the other, and a session's
/// events of a batch logged in order, so each session logs them in the
/// order they were first published here.
async fn fan_out(sessions: &Sessions, batch: EventBatch) {
    let streaming = match sessions.event_log().standalone_sessions().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the sessions with a GET stream");
            return;
        }
    };
    let every_resource = batch.every_resource;
    let notes: Vec<Note> = batch.events.into_iter().map(note).collect();
    let logged: Vec<Logged> = stream::iter(streaming)
        .map(|session| log_for(sessions, &notes, every_resource, session))
        .buffer_unordered(CONCURRENCY)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    for (session, events) in &logged {
        for (data, seq) in events {
            deliver(sessions, session, *seq, data.clone()).await;
        }
    }
    announce(sessions, logged).await;
}

/// Append to the session's standalone stream the events it wants: the
/// list changes, and the updates of the resources its stored record
/// subscribes to (each of them if any resource may have changed).
async fn log_for(
    sessions: &Sessions,
    notes: &[Note],
    every_resource: bool,
    session: String,
) -> Option<Logged> {
    let resources = every_resource
        || notes
            .iter()
            .any(|(e, _)| matches!(e, ServerEvent::ResourceUpdated { .. }));
    let subscriptions = if resources {
        match sessions.store().load(&session).await {
            Ok(Some(record)) => record.subscriptions,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a session's subscriptions");
                return None;
            }
        }
    } else {
        Vec::new()
    };
    let mut wanted: Vec<Note> = notes
        .iter()
        .filter(|(e, _)| match e {
            ServerEvent::ResourceUpdated { uri } => subscriptions.contains(uri),
            _ => true,
        })
        .cloned()
        .collect();
    if every_resource {
        for uri in subscriptions {
            let event = ServerEvent::ResourceUpdated { uri };
            if !wanted.iter().any(|(e, _)| *e == event) {
                wanted.push(note(event));
            }
        }
    }
    let mut logged = Vec::with_capacity(wanted.len());
    for (_, data) in wanted {
        match sessions
            .event_log()
            .append(&session, STANDALONE, data.clone())
            .await
        {
            Ok(id) => logged.push((data, id.seq)),
            Err(e) => {
                tracing::warn!(error = %e, "event log append failed");
                break; // the rest would come out of order
            }
        }
    }
    (!logged.is_empty()).then_some((session, logged))
}

/// An event's text and the sessions it was logged for, at which sequence
/// number (a `logged` bus message, before it is split).
type Announcement = (Arc<str>, Vec<(String, u64)>);

/// Name the sessions each event was logged for on the bus: one message per
/// event and [`PER_MESSAGE`] sessions, each sent when the bus has room.
async fn announce(sessions: &Sessions, logged: Vec<Logged>) {
    let Some(bus) = sessions.bus() else {
        return;
    };
    let mut by_event: Vec<Announcement> = Vec::new();
    let mut index: HashMap<Arc<str>, usize> = HashMap::new();
    for (session, events) in logged {
        for (data, seq) in events {
            let at = *index.entry(data.clone()).or_insert_with(|| {
                by_event.push((data, Vec::new()));
                by_event.len() - 1
            });
            by_event[at].1.push((session.clone(), seq));
        }
    }
    for (data, to) in by_event {
        for to in to.chunks(PER_MESSAGE) {
            crate::events::wait_for_room(&**bus).await;
            bus.publish(BusMessage::Logged {
                data: data.to_string(),
                to: to.to_vec(),
            });
        }
    }
}

/// Send event `seq` of a session's standalone stream to its connection,
/// if this node holds it.
pub(crate) async fn deliver(sessions: &Sessions, session: &str, seq: u64, data: Arc<str>) {
    let Some(slot) = sessions
        .registry()
        .get(session)
        .and_then(|live| live.standalone_if_open())
    else {
        return;
    };
    if let Err(e) = slot.deliver(sessions.event_log(), session, seq, data).await {
        tracing::warn!(error = %e, "cannot read a session's event log");
    }
}
