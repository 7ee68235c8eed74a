//! Routing between the nodes of a cluster over the `SessionBus`: what
//! arrives at a node that does not hold the live state it is for goes on
//! the bus, and each node delivers what the others send to its own live
//! sessions. Without a bus (one node, the memory store) nothing here runs.
//!
//! - A client's answer to a server-to-client request, posted where no
//!   handler waits for it, goes to the node whose handler does.
//! - `notifications/cancelled` for a request not running here goes to the
//!   node running it.
//! - Server events (list changes, resource updates) published on one
//!   node's catalog bus reach every node's catalog bus ([`ClusterEvents`]),
//!   so GET streams and `subscriptions/listen` streams anywhere hear them.
//! - A request stream resumed (`GET` + `Last-Event-ID`) at another node
//!   than the one running its handler is followed: the writer announces
//!   events no connection of its own took, and the follower sends what the
//!   shared log holds past what it sent (exactly once, in order).
//! - A session ended on one node (DELETE, expiry) is closed on every node:
//!   its streams end, its handlers are cancelled.
//! - A server event logged for sessions' GET streams by the node that
//!   produced it (`fanout`) is sent by the nodes holding those streams.

use std::sync::Arc;

use serde_json::value::RawValue;
use switchboard_proto::RequestId;
use switchboard_runtime::{EventBus, LocalBus, ServerEvent};
use switchboard_store::{BusMessage, SessionBus};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::app::App;
use crate::live::{Answer, LiveSession};

/// Hand a client's answer that found no waiting handler here to the
/// other nodes.
pub(crate) fn route_answer(app: &App, live: &LiveSession, id: &RequestId, outcome: Answer) {
    let Some(bus) = app.session_bus() else {
        return;
    };
    let (ok, body) = match outcome {
        Ok(r) => (true, r),
        Err(e) => (false, e),
    };
    bus.publish(BusMessage::Answer {
        session: live.id.to_string(),
        id: id.as_json().to_owned(),
        ok,
        body: body.get().to_owned(),
    });
}

/// Hand a cancellation for a request not running here to the other nodes.
pub(crate) fn route_cancel(app: &App, live: &LiveSession, id: &RequestId) {
    if let Some(bus) = app.session_bus() {
        bus.publish(BusMessage::Cancel {
            session: live.id.to_string(),
            id: id.as_json().to_owned(),
        });
    }
}

/// Tell the other nodes that request stream `stream` has events no
/// connection here took; `end`: it is over.
pub(crate) fn route_stream(app: &App, live: &LiveSession, stream: u64, end: bool) {
    if let Some(bus) = app.session_bus() {
        bus.publish(BusMessage::Stream {
            session: live.id.to_string(),
            stream,
            end,
        });
    }
}

/// Deliver what the other nodes route here, until the bus closes.
pub(crate) async fn run(app: App) {
    let Some(bus) = app.session_bus() else {
        return;
    };
    let mut rx = bus.subscribe();
    loop {
        match rx.recv().await {
            Ok(m) => deliver(&app, &m).await,
            Err(RecvError::Lagged(n)) => tracing::warn!(skipped = n, "session bus fell behind"),
            Err(RecvError::Closed) => return,
        }
    }
}

async fn deliver(app: &App, message: &BusMessage) {
    match message {
        BusMessage::Answer {
            session,
            id,
            ok,
            body,
        } => {
            let (Some(live), Some(id)) = (app.registry().get(session), parse_id(id)) else {
                return;
            };
            let Ok(body) = RawValue::from_string(body.clone()) else {
                return;
            };
            let outcome = if *ok { Ok(body) } else { Err(body) };
            let _ = live.answer(&id, outcome);
        }
        BusMessage::Cancel { session, id } => {
            if let (Some(live), Some(id)) = (app.registry().get(session), parse_id(id)) {
                live.cancel(&id);
            }
        }
        BusMessage::Stream {
            session,
            stream,
            end,
        } => {
            let Some(live) = app.registry().get(session) else {
                return;
            };
            let Some(slot) = live.stream(*stream).filter(|s| s.is_follower()) else {
                return;
            };
            match slot.pull(app.event_log(), session, *stream, *end).await {
                Ok(true) => live.remove_stream(*stream),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read a followed stream"),
            }
        }
        BusMessage::Ended { session } => {
            app.end_live(session);
            app.catalog().session_ended(session).await;
        }
        BusMessage::Server { .. } => {} // carried by `ClusterEvents`
        BusMessage::Logged { data, to } => {
            let data: Arc<str> = Arc::from(data.as_str());
            for (session, seq) in to {
                crate::fanout::deliver(app, session, *seq, data.clone()).await;
            }
        }
    }
}

fn parse_id(text: &str) -> Option<RequestId> {
    let raw: Box<RawValue> = serde_json::from_str(text).ok()?;
    RequestId::from_raw(&raw).ok()
}

/// The catalog's event bus on a cluster: events published here go to this
/// node's listeners and to the other nodes; the other nodes' events come
/// to this node's listeners.
#[derive(Debug)]
pub struct ClusterEvents {
    local: Arc<LocalBus>,
    bus: Arc<dyn SessionBus>,
    /// The events published on this node only (for `fanout`).
    origin: broadcast::Sender<ServerEvent>,
}

/// This node's own events a fan-out may fall behind by.
const ORIGIN_BACKLOG: usize = 1024;

impl ClusterEvents {
    /// Start forwarding the other nodes' events to this node's listeners
    /// (needs a Tokio runtime).
    pub fn new(bus: Arc<dyn SessionBus>) -> Arc<Self> {
        let local = Arc::new(LocalBus::default());
        tokio::spawn(forward(bus.subscribe(), local.clone()));
        let origin = broadcast::channel(ORIGIN_BACKLOG).0;
        Arc::new(Self { local, bus, origin })
    }

    /// The events published on this node from now on, not the other
    /// nodes'.
    pub(crate) fn origin(&self) -> broadcast::Receiver<ServerEvent> {
        self.origin.subscribe()
    }
}

async fn forward(mut rx: broadcast::Receiver<Arc<BusMessage>>, local: Arc<LocalBus>) {
    loop {
        match rx.recv().await {
            Ok(m) => {
                if let BusMessage::Server { method, uri } = &*m
                    && let Some(event) = event_of(method, uri.as_deref())
                {
                    local.publish(event);
                }
            }
            Err(RecvError::Lagged(n)) => tracing::warn!(skipped = n, "server events fell behind"),
            Err(RecvError::Closed) => return,
        }
    }
}

fn event_of(method: &str, uri: Option<&str>) -> Option<ServerEvent> {
    use switchboard_proto::methods::*;
    Some(match (method, uri) {
        (RESOURCES_UPDATED, Some(uri)) => ServerEvent::ResourceUpdated {
            uri: uri.to_owned(),
        },
        (TOOLS_LIST_CHANGED, _) => ServerEvent::ToolsListChanged,
        (PROMPTS_LIST_CHANGED, _) => ServerEvent::PromptsListChanged,
        (RESOURCES_LIST_CHANGED, _) => ServerEvent::ResourcesListChanged,
        _ => return None,
    })
}

impl EventBus for ClusterEvents {
    fn publish(&self, event: ServerEvent) {
        let uri = match &event {
            ServerEvent::ResourceUpdated { uri } => Some(uri.clone()),
            _ => None,
        };
        self.bus.publish(BusMessage::Server {
            method: event.method().to_owned(),
            uri,
        });
        let _ = self.origin.send(event.clone());
        self.local.publish(event);
    }

    fn subscribe(&self) -> broadcast::Receiver<ServerEvent> {
        self.local.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_survives_the_bus() {
        let events = [
            ServerEvent::ResourceUpdated {
                uri: "a://b".into(),
            },
            ServerEvent::ToolsListChanged,
            ServerEvent::PromptsListChanged,
            ServerEvent::ResourcesListChanged,
        ];
        for e in events {
            let uri = match &e {
                ServerEvent::ResourceUpdated { uri } => Some(uri.as_str()),
                _ => None,
            };
            assert_eq!(event_of(e.method(), uri), Some(e));
        }
        assert_eq!(event_of("notifications/other", None), None);
        assert_eq!(parse_id("7"), Some(RequestId::from_u64(7)));
        assert_eq!(parse_id("{"), None);
    }
}
