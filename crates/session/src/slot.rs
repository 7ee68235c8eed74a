//! One logical SSE stream of a session ([`StreamSlot`]): every event is
//! logged, then sent to the connection attached, if any; a connection may
//! detach and another resume from the log; a stream another node writes is
//! followed from the log, and a standalone stream on a cluster is fed with
//! what other nodes logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use switchboard_http::Frame;
use switchboard_http::frames as mpsc;
use switchboard_store::{EventId, EventLog, StoreError, StoredEvent};

/// The id of the standalone (GET) stream of every session.
pub const STANDALONE: u64 = switchboard_store::STANDALONE_STREAM;

#[derive(Debug, Default)]
struct SlotState {
    conn: Option<mpsc::Sender>,
    finished: bool,
    last_seq: u64,
}

/// One logical SSE stream of a session: every event is appended to the
/// session's event log, then sent to the connection attached to it, if any.
/// A connection can detach (client gone, slow reader, early close) and
/// another attach later with `Last-Event-ID`; the lock makes replay and live
/// delivery exactly-once and in order.
#[derive(Debug, Default)]
pub struct StreamSlot {
    state: tokio::sync::Mutex<SlotState>,
    /// Fed from the log at another node's word ([`StreamSlot::follow`]),
    /// not written here.
    follower: bool,
    /// Fed with what other nodes logged (`StreamSlot::deliver`), never
    /// written here: a standalone stream on a cluster. Set once, under the
    /// state's lock; read without it by the notifier.
    fed: AtomicBool,
}

impl StreamSlot {
    /// A slot with a connection already attached.
    pub fn with_conn(tx: mpsc::Sender) -> Self {
        Self {
            state: tokio::sync::Mutex::new(SlotState {
                conn: Some(tx),
                ..SlotState::default()
            }),
            follower: false,
            fed: AtomicBool::new(false),
        }
    }

    /// A slot that follows a stream another node writes.
    pub fn follower() -> Self {
        Self {
            follower: true,
            ..Self::default()
        }
    }

    /// Whether this slot follows a stream another node writes.
    pub fn is_follower(&self) -> bool {
        self.follower
    }

    /// Whether other nodes' logging feeds this stream (see `fed`).
    pub fn is_fed(&self) -> bool {
        self.fed.load(Ordering::Relaxed)
    }

    /// Log an event and deliver it to the attached connection; returns
    /// whether a connection took it. A connection whose buffer is full is
    /// cut off: its client resumes from the log. So is the connection when
    /// the event could not be logged: it would skip the event (and, with a
    /// store that numbers events, any the store logged late under ids this
    /// node never saw), where a resumption gets what the log has, in order.
    pub async fn emit(
        &self,
        log: &dyn EventLog,
        session: &str,
        stream: u64,
        data: Arc<str>,
    ) -> Result<bool, StoreError> {
        let mut st = self.state.lock().await;
        let id = match log.append(session, stream, data.clone()).await {
            Ok(id) => id,
            Err(e) => {
                st.conn = None;
                return Err(e);
            }
        };
        st.last_seq = id.seq;
        Ok(send(&mut st, Frame { id: Some(id), data }))
    }

    /// [`StreamSlot::emit`] for a connection that cannot resume (the
    /// 2024-11-05 transport's one stream): an event the log refuses is sent
    /// all the same, without an id, and the error returned for the record.
    pub async fn emit_unresumable(
        &self,
        log: &dyn EventLog,
        session: &str,
        stream: u64,
        data: Arc<str>,
    ) -> Result<bool, StoreError> {
        let mut st = self.state.lock().await;
        let (id, logged) = match log.append(session, stream, data.clone()).await {
            Ok(id) => {
                st.last_seq = id.seq;
                (Some(id), Ok(()))
            }
            Err(e) => (None, Err(e)),
        };
        let sent = send(&mut st, Frame { id, data });
        logged.map(|()| sent)
    }

    /// Follow a stream another node writes: a connection fed from the log,
    /// first with what follows `after`, then at each [`StreamSlot::pull`].
    /// Also returns whether the stream is already over (its response seen).
    pub async fn follow(
        &self,
        log: &dyn EventLog,
        session: &str,
        after: EventId,
        buffer: usize,
    ) -> Result<(mpsc::Receiver, bool), StoreError> {
        let mut st = self.state.lock().await;
        let events = log.read_after(session, after).await?;
        let (tx, rx) = mpsc::channel(buffer + events.len());
        st.last_seq = after.seq;
        st.conn = Some(tx);
        let over = forward(&mut st, events);
        Ok((rx, over))
    }

    /// Send the follower what the log holds past what it was sent; `end`:
    /// the writer says the stream is over. Returns whether the following
    /// is over (the stream ended, or the follower went away).
    pub async fn pull(
        &self,
        log: &dyn EventLog,
        session: &str,
        stream: u64,
        end: bool,
    ) -> Result<bool, StoreError> {
        let mut st = self.state.lock().await;
        if st.finished {
            return Ok(true);
        }
        if st.conn.is_none() {
            return Ok(false); // not attached yet
        }
        let after = EventId {
            stream,
            seq: st.last_seq,
        };
        let events = log.read_after(session, after).await?;
        let over = forward(&mut st, events) || end;
        if over {
            st.finished = true;
            st.conn = None;
        }
        Ok(over)
    }

    /// No more events will come; the connection ends after what it has.
    pub async fn finish(&self) {
        let mut st = self.state.lock().await;
        st.finished = true;
        st.conn = None;
    }

    /// Whether no more events will come (see [`StreamSlot::finish`]).
    pub async fn is_finished(&self) -> bool {
        self.state.lock().await.finished
    }

    /// Drop the connection (the client resumes later).
    pub async fn detach(&self) {
        self.state.lock().await.conn = None;
    }

    /// Attach a fresh connection after replaying the events that follow `after`.
    pub async fn resume(
        &self,
        log: &dyn EventLog,
        session: &str,
        after: EventId,
        buffer: usize,
    ) -> Result<mpsc::Receiver, StoreError> {
        let mut st = self.state.lock().await;
        let (tx, rx) = replay_channel(log, session, after, buffer).await?;
        if !st.finished {
            st.conn = Some(tx);
        }
        Ok(rx)
    }

    /// Whether a connection that is still open is attached and takes
    /// events logged here (not fed from what other nodes log).
    pub async fn takes_local_events(&self) -> bool {
        let st = self.state.lock().await;
        !self.is_fed() && st.conn.as_ref().is_some_and(|c| !c.is_closed())
    }

    /// Attach a connection unless a live one is attached (`None` then);
    /// returns the last sequence number sent on this stream (for priming).
    pub async fn attach_exclusive(&self, buffer: usize) -> Option<(mpsc::Receiver, u64)> {
        let mut st = self.state.lock().await;
        if st.conn.as_ref().is_some_and(|c| !c.is_closed()) {
            return None;
        }
        let (tx, rx) = mpsc::channel(buffer);
        st.conn = Some(tx);
        Some((rx, st.last_seq))
    }
}

/// Hand `frame` to the attached connection; one that cannot take it (gone,
/// or its buffer full) is cut off. Whether it took it.
fn send(st: &mut SlotState, frame: Frame) -> bool {
    let sent = st
        .conn
        .as_ref()
        .is_some_and(|tx| tx.try_send(frame).is_ok());
    if !sent {
        st.conn = None;
    }
    sent
}

/// Send logged events to a follower's connection; true (and the following
/// is finished) once the stream's response went by (a request stream ends
/// with it) or the follower is gone.
fn forward(st: &mut SlotState, events: Vec<StoredEvent>) -> bool {
    let Some(tx) = st.conn.clone() else {
        return st.finished;
    };
    for e in events {
        st.last_seq = e.id.seq;
        let response = is_response(&e.data);
        let frame = Frame {
            id: Some(e.id),
            data: e.data,
        };
        if tx.try_send(frame).is_err() || response {
            st.finished = true;
            st.conn = None;
            return true;
        }
    }
    false
}

/// Whether an event is a JSON-RPC response (the last event of a request stream).
fn is_response(data: &str) -> bool {
    matches!(
        switchboard_proto::parse_message(data.as_bytes()),
        Ok(switchboard_proto::Message::Response { .. })
    )
}

/// A channel pre-filled with the logged events after `after`.
pub async fn replay_channel(
    log: &dyn EventLog,
    session: &str,
    after: EventId,
    buffer: usize,
) -> Result<(mpsc::Sender, mpsc::Receiver), StoreError> {
    let events = log.read_after(session, after).await?;
    let (tx, rx) = mpsc::channel(buffer + events.len());
    for e in events {
        let _ = tx.try_send(Frame {
            id: Some(e.id),
            data: e.data,
        });
    }
    Ok((tx, rx))
}

mod fed;

#[cfg(test)]
mod tests;
