//! A standalone stream fed with what other nodes logged (a GET stream on
//! a cluster): attached at the log's end or resumed, then sent each
//! announced event once, in the log's order, catching up on any missed.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use switchboard_http::Frame;
use switchboard_http::frames as mpsc;
use switchboard_store::{EventId, EventLog, StoreError, StoredEvent};

use super::{STANDALONE, SlotState, StreamSlot};

impl StreamSlot {
    /// Attach a fresh connection to a fed stream at the log's end, unless
    /// a live one is attached (`None` then); returns the sequence number it
    /// starts after (for priming).
    pub async fn attach_fed(
        &self,
        log: &dyn EventLog,
        session: &str,
        buffer: usize,
    ) -> Result<Option<(mpsc::Receiver, u64)>, StoreError> {
        let mut st = self.state.lock().await;
        if st.conn.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(None);
        }
        let last = log.last_seq(session, STANDALONE).await?;
        let (tx, rx) = mpsc::channel(buffer);
        st.conn = Some(tx);
        st.last_seq = last;
        self.fed.store(true, Ordering::Relaxed);
        Ok(Some((rx, last)))
    }

    /// Attach a connection to a fed stream after replaying the events that
    /// follow `after`; later deliveries continue from the last one replayed.
    pub async fn resume_fed(
        &self,
        log: &dyn EventLog,
        session: &str,
        after: EventId,
        buffer: usize,
    ) -> Result<mpsc::Receiver, StoreError> {
        let mut st = self.state.lock().await;
        let events = log.read_after(session, after).await?;
        let (tx, rx) = mpsc::channel(buffer + events.len());
        st.last_seq = after.seq;
        st.conn = Some(tx);
        self.fed.store(true, Ordering::Relaxed);
        send_logged(&mut st, events);
        Ok(rx)
    }

    /// Send event `seq` of a fed stream, which its producer logged as
    /// `data`, to the connection attached here: nothing if it was sent
    /// already; the log's events in between first if some were missed (an
    /// announcement lost or overtaken). Each event goes out once, in the
    /// log's order.
    pub async fn deliver(
        &self,
        log: &dyn EventLog,
        session: &str,
        seq: u64,
        data: Arc<str>,
    ) -> Result<(), StoreError> {
        let mut st = self.state.lock().await;
        if !self.is_fed() || st.conn.is_none() || seq <= st.last_seq {
            return Ok(());
        }
        let id = EventId {
            stream: STANDALONE,
            seq,
        };
        if seq == st.last_seq + 1 {
            send_logged(&mut st, vec![StoredEvent { id, data }]);
            return Ok(());
        }
        send_missed(&mut st, log, session).await
    }

    /// Send a fed stream's connection what the log holds past the last
    /// event it sent (after announcements may have been missed).
    pub async fn catch_up(&self, log: &dyn EventLog, session: &str) -> Result<(), StoreError> {
        let mut st = self.state.lock().await;
        if !self.is_fed() || st.conn.is_none() {
            return Ok(());
        }
        send_missed(&mut st, log, session).await
    }
}

/// Send a fed stream's connection the logged events past the last one sent.
async fn send_missed(
    st: &mut SlotState,
    log: &dyn EventLog,
    session: &str,
) -> Result<(), StoreError> {
    let after = EventId {
        stream: STANDALONE,
        seq: st.last_seq,
    };
    let events = log.read_after(session, after).await?;
    send_logged(st, events);
    Ok(())
}

/// Send logged events past the last one sent to the attached connection;
/// a connection that cannot take one is dropped (its client resumes).
fn send_logged(st: &mut SlotState, events: Vec<StoredEvent>) {
    for e in events {
        if e.id.seq <= st.last_seq {
            continue;
        }
        let Some(tx) = &st.conn else {
            return;
        };
        let frame = Frame {
            id: Some(e.id),
            data: e.data,
        };
        if tx.try_send(frame).is_err() {
            st.conn = None;
            return;
        }
        st.last_seq = e.id.seq;
    }
}
