//! The channel that carries a stream's [`Frame`]s to its connection: bounded
//! (a reader that falls behind is cut off by its writer, `try_send`), with
//! one receiver and any number of senders — and nothing allocated for
//! events that may never come. A fresh channel is one small allocation
//! (its queue is empty, of capacity 0); the queue grows with a burst and
//! is given back once the reader has drained it. (`tokio::sync::mpsc`
//! allocates about 1.8 KiB per channel up front: a block of 32 slots and
//! its cache-padded state, held as long as an idle GET stream lives.)

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::sse::{Frame, FrameSource};

/// Queues that held more than this many frames are given back when empty.
const KEEP_CAPACITY: usize = 4;

#[derive(Debug)]
struct State {
    queue: VecDeque<Frame>,
    senders: usize,
    receiver: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    capacity: usize,
    /// Woken when a frame is queued or the last sender goes.
    ready: Notify,
}

/// A bounded channel of frames holding at most `capacity` (at least 1).
pub fn channel(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            receiver: true,
        }),
        capacity: capacity.max(1),
        ready: Notify::new(),
    });
    (Sender(shared.clone()), Receiver(shared))
}

/// The sending side; cloned for each writer.
#[derive(Debug)]
pub struct Sender(Arc<Shared>);

/// The receiving side: the connection's body.
#[derive(Debug)]
pub struct Receiver(Arc<Shared>);

/// Nothing queued (see [`Receiver::try_recv`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Empty;

impl Sender {
    /// Queue `frame` unless the queue is full or the receiver is gone (the
    /// frame is given back then).
    pub fn try_send(&self, frame: Frame) -> Result<(), Frame> {
        let mut st = self.0.state.lock();
        if !st.receiver || st.queue.len() >= self.0.capacity {
            return Err(frame);
        }
        st.queue.push_back(frame);
        drop(st);
        self.0.ready.notify_one();
        Ok(())
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        !self.0.state.lock().receiver
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        self.0.state.lock().senders += 1;
        Self(self.0.clone())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let last = {
            let mut st = self.0.state.lock();
            st.senders -= 1;
            st.senders == 0
        };
        if last {
            self.0.ready.notify_one();
        }
    }
}

impl Receiver {
    /// The next frame, in order; `None` once every sender is gone and the
    /// queue is drained.
    pub async fn recv(&mut self) -> Option<Frame> {
        loop {
            match self.take() {
                Ok(frame) => return Some(frame),
                Err(true) => return None,
                // A notification that came before this wait is kept as a
                // permit (one receiver), so none is lost.
                Err(false) => self.0.ready.notified().await,
            }
        }
    }

    /// The next frame if one is queued.
    pub fn try_recv(&mut self) -> Result<Frame, Empty> {
        self.take().map_err(|_| Empty)
    }

    /// A frame, or whether the channel is over (no frame and no sender).
    fn take(&self) -> Result<Frame, bool> {
        let mut st = self.0.state.lock();
        match st.queue.pop_front() {
            Some(frame) => {
                if st.queue.is_empty() && st.queue.capacity() > KEEP_CAPACITY {
                    st.queue = VecDeque::new();
                }
                Ok(frame)
            }
            None => Err(st.senders == 0),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut st = self.0.state.lock();
        st.receiver = false;
        st.queue = VecDeque::new();
    }
}

impl FrameSource for Receiver {
    fn next_frame(&mut self) -> impl std::future::Future<Output = Option<Frame>> + Send {
        self.recv()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u64) -> Frame {
        Frame {
            id: Some(switchboard_store::EventId { stream: 0, seq: n }),
            data: n.to_string().into(),
        }
    }

    fn seq(f: &Frame) -> u64 {
        f.id.map_or(0, |id| id.seq)
    }

    /// A burst far past the queue's first size arrives whole and in order,
    /// the queue refuses past its bound, and a drained queue is given back.
    #[tokio::test]
    async fn a_burst_arrives_in_order_and_the_bound_holds() {
        let (tx, mut rx) = channel(300);
        assert_eq!(tx.0.state.lock().queue.capacity(), 0, "nothing up front");
        for n in 1..=300 {
            assert!(tx.try_send(frame(n)).is_ok(), "frame {n}");
        }
        assert_eq!(tx.try_send(frame(301)).map_err(|f| seq(&f)), Err(301));
        for n in 1..=300 {
            assert_eq!(rx.recv().await.as_ref().map(seq), Some(n));
        }
        assert_eq!(rx.try_recv().map(|f| seq(&f)), Err(Empty));
        assert_eq!(tx.0.state.lock().queue.capacity(), 0, "given back");
        assert!(tx.try_send(frame(302)).is_ok(), "room again");
        assert_eq!(rx.try_recv().map(|f| seq(&f)), Ok(302));
    }

    /// A waiting receiver wakes for a frame sent from another task, and
    /// ends once every sender (clones too) is gone.
    #[tokio::test]
    async fn a_waiting_receiver_wakes_and_ends_with_the_last_sender() {
        let (tx, mut rx) = channel(4);
        let other = tx.clone();
        let writer = tokio::spawn(async move {
            for n in 1..=10 {
                while other.try_send(frame(n)).is_err() {
                    tokio::task::yield_now().await;
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 10 {
            got.push(rx.recv().await.as_ref().map_or(0, seq));
        }
        writer.await.expect("writer");
        assert_eq!(got, (1..=10).collect::<Vec<_>>());
        drop(tx);
        assert!(rx.recv().await.is_none(), "no sender left");
    }

    /// A sender sees the receiver go, and what it then sends comes back.
    #[test]
    fn a_sender_sees_the_receiver_go() {
        let (tx, rx) = channel(4);
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
        assert!(tx.try_send(frame(1)).is_err());
    }
}
