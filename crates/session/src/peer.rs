//! The session-era `ClientPeer`: how a handler's messages reach the client.
//!
//! A request is answered as `application/json` until its handler sends its
//! first message to the client (progress, a log line, a sampling request…);
//! at that moment the reply turns into an SSE stream that carries that message
//! and every later one, ending with the response. A handler that sends nothing
//! costs no stream, no event log entry and no extra task.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};

use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_http::frames as mpsc;
use switchboard_observe::ids::short;
use switchboard_proto::{ProtocolVersion, RequestId, RpcError, notification_json, request_json};
use switchboard_runtime::async_trait;
use switchboard_runtime::{ClientPeer, PeerError};
use tokio::sync::oneshot;

use crate::live::LiveSession;
use crate::sessions::Sessions;
use crate::slot::{STANDALONE, StreamSlot};

/// The waits between attempts to log a final response (about 8 s in
/// all: a Redis restart or pause rides through).
const FINAL_RETRIES: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// How the HTTP exchange of a request is answered; decided by the handler's
/// first output.
#[derive(Debug)]
pub enum Decision {
    /// The final response came first: answer with this JSON.
    Json(String),
    /// A message came first: stream it, and the rest, on this SSE stream.
    Sse {
        /// The stream's number in the session.
        stream: u64,
        /// Its frames, the first message already in.
        rx: mpsc::Receiver,
    },
    /// The request was cancelled before anything was sent.
    Cancelled,
}

#[derive(Debug)]
enum Reply {
    Pending(oneshot::Sender<Decision>),
    /// Every message goes on the session's one stream, which outlives the
    /// request (the 2024-11-05 HTTP+SSE transport).
    Shared {
        stream: u64,
        slot: Arc<StreamSlot>,
    },
    Sse {
        stream: u64,
        slot: Arc<StreamSlot>,
    },
    /// The exchange is already answered, or cannot stream (JSON-only, batch).
    Closed,
}

/// The peer of one session-era request.
#[derive(Debug)]
pub struct LegacyPeer {
    sessions: Sessions,
    live: Arc<LiveSession>,
    version: ProtocolVersion,
    can_stream: bool,
    reply: Mutex<Reply>,
    /// The request whose reply this is, if it may stream: noted with its
    /// stream on a cluster (see [`LegacyPeer::answering`]).
    request: Option<RequestId>,
}

impl LegacyPeer {
    /// The reply to request `id`: on a cluster its stream is noted in the
    /// event log with the id, so that a node following the stream can
    /// answer the request if this node dies.
    pub fn answering(mut self, id: RequestId) -> Self {
        self.request = Some(id);
        self
    }

    /// A peer whose first message decides the reply; `decision` receives it.
    pub fn new(
        sessions: Sessions,
        live: Arc<LiveSession>,
        version: ProtocolVersion,
        can_stream: bool,
        decision: Option<oneshot::Sender<Decision>>,
    ) -> Self {
        let reply = match decision {
            Some(tx) => Reply::Pending(tx),
            None => Reply::Closed,
        };
        Self {
            sessions,
            live,
            version,
            can_stream,
            reply: Mutex::new(reply),
            request: None,
        }
    }

    /// A peer whose messages, response included, go on a stream shared by
    /// the whole session.
    pub fn shared(
        sessions: Sessions,
        live: Arc<LiveSession>,
        version: ProtocolVersion,
        stream: u64,
        slot: Arc<StreamSlot>,
    ) -> Self {
        Self {
            sessions,
            live,
            version,
            can_stream: true,
            reply: Mutex::new(Reply::Shared { stream, slot }),
            request: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Reply> {
        self.reply.lock()
    }

    /// The stream this request's messages go to, opening it if needed.
    fn stream(&self) -> Option<(u64, Arc<StreamSlot>)> {
        let mut reply = self.lock();
        match &*reply {
            Reply::Sse { stream, slot } | Reply::Shared { stream, slot } => {
                return Some((*stream, slot.clone()));
            }
            Reply::Closed => return None,
            Reply::Pending(_) if !self.can_stream => return None,
            Reply::Pending(_) => {}
        }
        let (tx, rx) = mpsc::channel(self.sessions.config().stream_buffer);
        let slot = Arc::new(StreamSlot::with_conn(tx));
        let stream = self.live.new_stream(slot.clone());
        let Reply::Pending(decision) = std::mem::replace(
            &mut *reply,
            Reply::Sse {
                stream,
                slot: slot.clone(),
            },
        ) else {
            unreachable!("checked above")
        };
        if let (Some(id), Some(_)) = (&self.request, self.sessions.bus()) {
            let (sessions, session, id) = (
                self.sessions.clone(),
                self.live.id.clone(),
                id.as_json().to_owned(),
            );
            tokio::spawn(async move {
                let noted = sessions
                    .event_log()
                    .note_request(&session, stream, &id)
                    .await;
                if let Err(e) = noted {
                    tracing::debug!(error = %e, "the stream's request could not be noted");
                }
            });
        }
        if decision.send(Decision::Sse { stream, rx }).is_err() {
            // The HTTP exchange is gone; keep logging for a resuming client.
            tracing::debug!(session = %short(&self.live.id), "client left before its stream opened");
        }
        Some((stream, slot))
    }

    async fn emit(&self, data: String) {
        if let Some((stream, slot)) = self.stream()
            && !self.send_on(stream, &slot, data).await
        {
            self.announce(stream, false);
        }
    }

    /// Log and send; whether a connection here took it (true too when the
    /// log failed: then there is nothing for another node to read).
    async fn send_on(&self, stream: u64, slot: &StreamSlot, data: String) -> bool {
        let log = self.sessions.event_log();
        match slot.emit(log, &self.live.id, stream, Arc::from(data)).await {
            Ok(sent) => sent,
            Err(e) => {
                tracing::warn!(session = %short(&self.live.id), error = %e, "event log append failed");
                true
            }
        }
    }

    /// Log and send the final response, trying again while the log fails
    /// (a store briefly unreachable): a response lost here would leave its
    /// client waiting for good, where a late one reaches it when it
    /// resumes. If a failed append was logged after all, the response is
    /// in the log twice; a client takes the first.
    async fn send_final(&self, stream: u64, slot: &StreamSlot, data: String) {
        let log = self.sessions.event_log();
        let data: Arc<str> = Arc::from(data);
        for wait in FINAL_RETRIES {
            match slot.emit(log, &self.live.id, stream, data.clone()).await {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(session = %short(&self.live.id), error = %e, "event log append failed (the final response: trying again)");
                    tokio::time::sleep(wait).await;
                }
            }
        }
        tracing::error!(session = %short(&self.live.id), "the final response could not be logged: its client will not get it");
    }

    /// Tell the other nodes a request stream has events no connection here
    /// took (a node following it sends them); not the shared stream.
    fn announce(&self, stream: u64, end: bool) {
        if stream != STANDALONE {
            self.sessions.route_stream(&self.live, stream, end);
        }
    }

    /// Deliver the final response (or none, when cancelled) and end the stream.
    pub async fn finish(&self, response: Option<String>) {
        let state = std::mem::replace(&mut *self.lock(), Reply::Closed);
        match state {
            Reply::Shared { stream, slot } => {
                if let Some(data) = response {
                    self.send_final(stream, &slot, data).await;
                }
            }
            Reply::Pending(tx) => {
                let _ = tx.send(response.map_or(Decision::Cancelled, Decision::Json));
            }
            Reply::Sse { stream, slot } => {
                if let Some(data) = response {
                    self.send_final(stream, &slot, data).await;
                }
                slot.finish().await;
                self.live.remove_stream(stream);
                // Even when a connection here took the response: it may be
                // one the client already left for a follower elsewhere.
                self.announce(stream, true);
            }
            Reply::Closed => {}
        }
    }
}

#[async_trait]
impl ClientPeer for LegacyPeer {
    async fn notify(&self, method: &str, params: Value) {
        self.emit(notification_json(method, &params)).await;
    }

    async fn request(
        &self,
        _key: &str,
        method: &str,
        params: Value,
    ) -> Result<Box<RawValue>, PeerError> {
        if !self.can_stream || matches!(*self.lock(), Reply::Closed) {
            return Err(PeerError::Unsupported(
                "the client does not accept an event stream for this request",
            ));
        }
        let (id, answer) = self.live.expect_answer();
        self.emit(request_json(&id, method, &params)).await;
        let timeout = self.sessions.config().client_request_timeout();
        let outcome = await_answer(answer, timeout, &self.live.closed).await;
        self.live.forget_answer(&id);
        outcome
    }

    async fn close_stream(&self) {
        if !self.version.wants_priming_event() {
            return; // the client could not resume: keep the stream.
        }
        if !matches!(*self.lock(), Reply::Pending(_) | Reply::Sse { .. }) {
            return; // a shared stream belongs to the whole session.
        }
        if let Some((_, slot)) = self.stream() {
            slot.detach().await;
        }
    }
}

/// Wait for the client's answer to a server-to-client request: its result,
/// or its error as `Rejected`; `Timeout` after `timeout`; `Closed` if the
/// session (or connection) ends first.
pub async fn await_answer(
    answer: oneshot::Receiver<Result<Box<RawValue>, Box<RawValue>>>,
    timeout: std::time::Duration,
    closed: &tokio_util::sync::CancellationToken,
) -> Result<Box<RawValue>, PeerError> {
    let outcome = tokio::select! {
        r = answer => r.map_err(|_| PeerError::Closed),
        _ = tokio::time::sleep(timeout) => Err(PeerError::Timeout),
        _ = closed.cancelled() => Err(PeerError::Closed),
    };
    outcome?.map_err(|error| PeerError::Rejected(rpc_error_from(&error)))
}

/// Read a client's JSON-RPC error object, tolerating odd shapes.
fn rpc_error_from(raw: &RawValue) -> RpcError {
    let v: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
    let code = v["code"].as_i64().unwrap_or(-32603) as i32;
    let message = v["message"].as_str().unwrap_or("error").to_owned();
    let mut e = RpcError::new(switchboard_proto::ErrorCode(code), message);
    if let Some(d) = v.get("data") {
        e = e.with_data(d.clone());
    }
    e
}
