//! The bus inbox: what the other nodes of a cluster route to this one
//! over the `SessionBus`, delivered to this node's live sessions. What
//! arrives at a node that does not hold the live state it is for goes on
//! the bus (published by `Sessions`), and each node delivers what the
//! others send. Without a bus (one node, the memory store) nothing here
//! runs.
//!
//! - A client's answer to a server-to-client request, posted where no
//!   handler waits for it, goes to the node whose handler does.
//! - `notifications/cancelled` for a request not running here goes to the
//!   node running it.
//! - A request stream resumed (`GET` + `Last-Event-ID`) at another node
//!   than the one running its handler is followed: the writer announces
//!   events no connection of its own took, and the follower sends what the
//!   shared log holds past what it sent (exactly once, in order).
//! - A session ended on one node (DELETE, expiry) is closed on every node:
//!   its streams end, its handlers are cancelled.
//! - A server event logged for sessions' GET streams by the node that
//!   produced it (`fanout`) is sent by the nodes holding those streams.
//! - Server events themselves travel apart (`ClusterEvents`).

use std::sync::Arc;

use serde_json::value::RawValue;
use switchboard_proto::RequestId;
use switchboard_runtime::Catalog;
use switchboard_session::Sessions;
use switchboard_store::BusMessage;
use tokio::sync::broadcast::error::RecvError;

/// Delivers what the other nodes route here. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Inbox {
    sessions: Sessions,
    /// Told when a session ends on another node.
    catalog: Arc<Catalog>,
}

impl Inbox {
    /// The inbox of `sessions`, telling `catalog` of sessions ended.
    pub(crate) fn new(sessions: Sessions, catalog: Arc<Catalog>) -> Self {
        Self { sessions, catalog }
    }
    /// Deliver what the other nodes route here, until the bus closes.
    pub(crate) async fn run(self) {
        let Some(bus) = self.sessions.bus() else {
            return;
        };
        let mut rx = bus.subscribe();
        loop {
            match rx.recv().await {
                Ok(m) => self.deliver(&m).await,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(
                        skipped = n,
                        "session bus fell behind; catching up from the log"
                    );
                    self.catch_up().await;
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// After bus messages were missed: every stream fed or followed here
    /// gets what the log holds past what it sent (a missed `logged` or
    /// `stream` announcement would otherwise wait for the next one).
    async fn catch_up(&self) {
        for live in self.sessions.registry().all() {
            for (stream, slot) in live.streams() {
                let caught = if slot.is_follower() {
                    let over = slot
                        .pull(self.sessions.event_log(), &live.id, stream, false)
                        .await;
                    if matches!(over, Ok(true)) {
                        live.remove_stream(stream);
                    }
                    over.map(drop)
                } else {
                    slot.catch_up(self.sessions.event_log(), &live.id).await
                };
                if let Err(e) = caught {
                    tracing::warn!(error = %e, "cannot read a session's event log");
                }
            }
        }
    }

    async fn deliver(&self, message: &BusMessage) {
        match message {
            BusMessage::Answer {
                session,
                id,
                ok,
                body,
            } => {
                let (Some(live), Some(id)) = (self.sessions.registry().get(session), parse_id(id))
                else {
                    return;
                };
                let Ok(body) = RawValue::from_string(body.clone()) else {
                    return;
                };
                let outcome = if *ok { Ok(body) } else { Err(body) };
                let _ = live.answer(&id, outcome);
            }
            BusMessage::Cancel { session, id } => {
                if let (Some(live), Some(id)) =
                    (self.sessions.registry().get(session), parse_id(id))
                {
                    live.cancel(&id);
                }
            }
            BusMessage::Stream {
                session,
                stream,
                end,
            } => {
                let Some(live) = self.sessions.registry().get(session) else {
                    return;
                };
                let Some(slot) = live.stream(*stream).filter(|s| s.is_follower()) else {
                    return;
                };
                match slot
                    .pull(self.sessions.event_log(), session, *stream, *end)
                    .await
                {
                    Ok(true) => live.remove_stream(*stream),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read a followed stream"),
                }
            }
            BusMessage::Ended { session } => {
                self.sessions.end_live(session);
                self.catalog.session_ended(session).await;
            }
            BusMessage::Server { .. } => {} // carried by `ClusterEvents`
            BusMessage::Logged { data, to } => {
                let data: Arc<str> = Arc::from(data.as_str());
                for (session, seq) in to {
                    crate::fanout::deliver(&self.sessions, session, *seq, data.clone()).await;
                }
            }
        }
    }
}

fn parse_id(text: &str) -> Option<RequestId> {
    let raw: Box<RawValue> = serde_json::from_str(text).ok()?;
    RequestId::from_raw(&raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_the_bus() {
        assert_eq!(parse_id("7"), Some(RequestId::from_u64(7)));
        assert_eq!(parse_id("{"), None);
    }
}
