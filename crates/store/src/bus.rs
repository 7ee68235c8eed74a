//! The session bus: how the nodes of a cluster (several processes on one
//! shared store) hand each other what arrived at the wrong node — a
//! client's answer to a server-to-client request, a `notifications/cancelled`
//! for a handler running elsewhere, a server event (list change, resource
//! update) for the sessions and listeners of every node, the end of a
//! session (so every node closes what it holds of it), and the events its
//! producer logged for sessions' standalone streams (so the node holding
//! such a stream sends them).
//!
//! Delivery is at most once and best effort, like the pub/sub it runs on: a
//! lost answer ends as the waiting handler's timeout, a lost cancel lets the
//! call run to its end. A single node needs no bus (the server then does no
//! routing work at all).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// What one node tells the others. Ids are the exact JSON text of a
/// JSON-RPC id; results and errors are raw JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum BusMessage {
    /// The client's answer to server-to-client request `id` of `session`:
    /// `body` is its `result` (`ok`) or its `error`.
    Answer {
        /// The session whose request it answers.
        session: String,
        /// The request's id (its JSON text).
        id: String,
        /// Whether `body` is a result (else an error).
        ok: bool,
        /// The result or error, as raw JSON.
        body: String,
    },
    /// The client cancelled its request `id` of `session`.
    Cancel {
        /// The session the request belongs to.
        session: String,
        /// The request's id (its JSON text).
        id: String,
    },
    /// Request stream `stream` of `session` has new events in the shared
    /// log and no connection on the node writing it; `end`: it is over.
    Stream {
        /// The session.
        session: String,
        /// The request stream.
        stream: u64,
        /// Whether the stream is over.
        end: bool,
    },
    /// `session` ended (deleted or expired): every node drops its live part.
    Ended {
        /// The session that ended.
        session: String,
    },
    /// A server event published on one node's catalog bus: its
    /// notification method, and the resource URI of a resource update.
    Server {
        /// The notification method of the event.
        method: String,
        /// The resource URI of a resource update.
        uri: Option<String>,
    },
    /// The node that produced a server event logged it, as `data`, on the
    /// standalone stream of each listed session, at the given sequence
    /// number: the node holding that stream sends exactly that event.
    Logged {
        /// The event as logged.
        data: String,
        /// Each session's id and the event's sequence number on its
        /// standalone stream.
        to: Vec<(String, u64)>,
    },
}

/// The bus between the nodes of a cluster.
pub trait SessionBus: Send + Sync + fmt::Debug + 'static {
    /// Send to every other node, in the background; false if the message
    /// was dropped (too large, or the outgoing queue is full).
    fn publish(&self, message: BusMessage) -> bool;
    /// What the other nodes publish from now on (never this node's own
    /// messages). A receiver that falls behind skips the oldest.
    fn subscribe(&self) -> broadcast::Receiver<Arc<BusMessage>>;
    /// How many messages `publish` would queue now. Senders of traffic
    /// that can wait (server events, which merge while they wait) hold
    /// back while it is low, keeping the room for messages that cannot.
    fn room(&self) -> usize {
        usize::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::BusMessage;

    #[test]
    fn messages_round_trip_as_tagged_json() {
        let m = BusMessage::Answer {
            session: "s".into(),
            id: "\"a\"".into(),
            ok: true,
            body: "{\"x\":1}".into(),
        };
        let text = serde_json::to_string(&m).expect("serialize");
        assert!(text.starts_with("{\"t\":\"answer\""), "{text}");
        assert_eq!(serde_json::from_str::<BusMessage>(&text).ok(), Some(m));
    }
}
