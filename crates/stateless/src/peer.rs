//! The stateless `ClientPeer`: notifications ride the request's own stream
//! (JSON until the first one, then SSE, never resumable); requests to the
//! client become `input_required` results answered by a retry.

use std::sync::Arc;

use http::StatusCode;
use parking_lot::{Mutex, MutexGuard};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use switchboard_proto::{input_request, notification_json};
use switchboard_runtime::{ClientPeer, PeerError, async_trait};
use tokio::sync::{mpsc, oneshot};

use switchboard_http::Frame;

/// How the HTTP exchange is answered; decided by the handler's first output.
#[derive(Debug)]
pub enum Decision {
    /// One JSON reply: its status and body.
    Json(StatusCode, String),
    /// A stream: the first frame came before the answer.
    Sse(mpsc::Receiver<Frame>),
}

#[derive(Debug)]
enum Reply {
    Pending(oneshot::Sender<Decision>),
    Sse(mpsc::Sender<Frame>),
    Closed,
}

/// The peer of one stateless request.
#[derive(Debug)]
pub struct ModernPeer {
    rounds: Rounds,
    can_stream: bool,
    buffer: usize,
    reply: Mutex<Reply>,
    /// Whether the call may turn into a task (the client accepts tasks).
    tasks: bool,
}

impl ModernPeer {
    /// The peer of a request whose earlier rounds answered `responses`;
    /// it may open a stream of `buffer` frames if `can_stream`, and tells
    /// `decision` how the exchange is answered.
    pub fn new(
        responses: Map<String, Value>,
        can_stream: bool,
        buffer: usize,
        decision: oneshot::Sender<Decision>,
    ) -> Self {
        Self {
            rounds: Rounds::new(responses),
            can_stream,
            buffer,
            reply: Mutex::new(Reply::Pending(decision)),
            tasks: false,
        }
    }

    /// Let the handler turn the call into a task.
    pub fn with_tasks(mut self, tasks: bool) -> Self {
        self.tasks = tasks;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Reply> {
        self.reply.lock()
    }

    /// The stream to write to, opening it on first use.
    fn stream(&self) -> Option<mpsc::Sender<Frame>> {
        let mut reply = self.lock();
        match &*reply {
            Reply::Sse(tx) => Some(tx.clone()),
            Reply::Closed => None,
            Reply::Pending(_) if !self.can_stream => None,
            Reply::Pending(_) => {
                let (tx, rx) = mpsc::channel(self.buffer);
                if let Reply::Pending(decision) =
                    std::mem::replace(&mut *reply, Reply::Sse(tx.clone()))
                {
                    let _ = decision.send(Decision::Sse(rx));
                }
                Some(tx)
            }
        }
    }

    /// The input requests still unanswered, and everything answered so far.
    pub fn take_rounds(&self) -> (Map<String, Value>, Map<String, Value>) {
        self.rounds.take()
    }

    /// Deliver the final answer (JSON, or the last event of the stream).
    pub async fn finish(&self, status: StatusCode, body: String) {
        let state = std::mem::replace(&mut *self.lock(), Reply::Closed);
        match state {
            Reply::Pending(tx) => {
                let _ = tx.send(Decision::Json(status, body));
            }
            Reply::Sse(tx) => {
                let _ = tx
                    .send(Frame {
                        id: None,
                        data: Arc::from(body),
                    })
                    .await;
            }
            Reply::Closed => {}
        }
    }
}

#[async_trait]
impl ClientPeer for ModernPeer {
    async fn notify(&self, method: &str, params: Value) {
        if let Some(tx) = self.stream() {
            let _ = tx
                .send(Frame {
                    id: None,
                    data: Arc::from(notification_json(method, &params)),
                })
                .await;
        }
    }

    async fn request(
        &self,
        key: &str,
        method: &str,
        params: Value,
    ) -> Result<Box<RawValue>, PeerError> {
        self.rounds.answer(key, method, params)
    }

    async fn start_task(&self) -> Result<(), PeerError> {
        if self.tasks {
            Err(PeerError::StartTask)
        } else {
            Ok(())
        }
    }
}

/// An input response must have the shape of its request's result.
/// The input rounds of one stateless request: the answers gathered so far
/// (earlier rounds and this retry) and the requests still unanswered, by
/// input key.
#[derive(Debug)]
pub struct Rounds {
    responses: Map<String, Value>,
    missing: Mutex<Map<String, Value>>,
}

impl Rounds {
    /// Rounds where the client already answered `responses`.
    pub fn new(responses: Map<String, Value>) -> Self {
        Self {
            responses,
            missing: Mutex::default(),
        }
    }

    /// The answer to the handler's request `key`, if the client gave one
    /// (checked against `method`); else it is recorded as missing and the
    /// handler learns the client answers with a retry.
    pub fn answer(
        &self,
        key: &str,
        method: &str,
        params: Value,
    ) -> Result<Box<RawValue>, PeerError> {
        if let Some(answer) = self.responses.get(key) {
            check_answer(key, method, answer)?;
            return RawValue::from_string(answer.to_string()).map_err(|_| PeerError::Closed);
        }
        self.missing
            .lock()
            .insert(key.to_owned(), input_request(method, params));
        Err(PeerError::InputRequired(key.to_owned()))
    }

    /// The missing input requests (taken) and the answers so far, for an
    /// `input_required` result and its sealed state.
    pub fn take(&self) -> (Map<String, Value>, Map<String, Value>) {
        let missing = std::mem::take(&mut *self.missing.lock());
        (missing, self.responses.clone())
    }
}

fn check_answer(key: &str, method: &str, answer: &Value) -> Result<(), PeerError> {
    use switchboard_proto::methods::{ELICITATION_CREATE, ROOTS_LIST, SAMPLING_CREATE_MESSAGE};
    let ok = match method {
        ELICITATION_CREATE => answer
            .get("action")
            .and_then(Value::as_str)
            .is_some_and(|a| matches!(a, "accept" | "decline" | "cancel")),
        SAMPLING_CREATE_MESSAGE => answer
            .get("content")
            .is_some_and(|c| c.is_object() || c.is_array()),
        ROOTS_LIST => answer.get("roots").is_some_and(Value::is_array),
        _ => answer.is_object(),
    };
    if ok {
        Ok(())
    } else {
        Err(PeerError::InvalidAnswer(format!(
            "inputResponses[{key:?}] is not a valid {method} result"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An input request the handler made without params (an upstream's
    /// bare `roots/list`) is recorded without `params`, never with `null`:
    /// stateless results and tasks both show it as recorded.
    #[test]
    fn a_request_without_params_is_recorded_without_them() {
        let rounds = Rounds::new(Map::new());
        let asked = rounds.answer("client_roots", "roots/list", Value::Null);
        assert!(matches!(asked, Err(PeerError::InputRequired(k)) if k == "client_roots"));
        let asked = rounds.answer("ask", "elicitation/create", json!({"message": "?"}));
        assert!(asked.is_err());
        let (missing, _) = rounds.take();
        assert_eq!(
            Value::Object(missing),
            json!({
                "client_roots": {"method": "roots/list"},
                "ask": {"method": "elicitation/create", "params": {"message": "?"}},
            })
        );
    }
}
