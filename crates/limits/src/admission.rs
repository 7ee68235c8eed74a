//! The in-flight cap and its fair queue.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// The queue is full: refused at once.
    QueueFull,
    /// It waited its whole deadline without a slot.
    Timeout,
}

impl Rejected {
    /// The metric label of this rejection.
    pub fn reason(self) -> &'static str {
        match self {
            Rejected::QueueFull => "queue_full",
            Rejected::Timeout => "queue_timeout",
        }
    }
}

/// A slot of in-flight work; dropping it frees the slot for the next waiter.
#[derive(Debug)]
pub struct Permit {
    admission: Arc<Shared>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.release();
    }
}

/// A snapshot for metrics and capacity warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionStats {
    pub in_flight: usize,
    pub queued: usize,
    pub max_in_flight: usize,
    pub max_queue: usize,
}

/// A queued waiter that removes itself if its future is dropped.
struct Waiting<'a> {
    shared: &'a Shared,
    key: &'a str,
    id: u64,
    armed: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.armed && !self.shared.lock().remove(self.key, self.id) {
            // Granted as we left: give the slot back.
            self.shared.release();
        }
    }
}

#[derive(Debug)]
struct Line {
    weight: u32,
    /// Turns left in this round.
    credit: u32,
    waiters: VecDeque<(u64, oneshot::Sender<()>)>,
}

#[derive(Debug, Default)]
struct State {
    in_flight: usize,
    queued: usize,
    next_id: u64,
    lines: HashMap<Arc<str>, Line>,
    /// Keys with waiters, in turn order.
    ring: VecDeque<Arc<str>>,
}

#[derive(Debug)]
struct Shared {
    max_in_flight: usize,
    max_queue: usize,
    state: Mutex<State>,
}

/// A cap on in-flight work with a bounded, fair, deadline-bound queue.
#[derive(Debug, Clone)]
pub struct Admission {
    shared: Arc<Shared>,
}

impl Admission {
    pub fn new(max_in_flight: usize, max_queue: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                max_in_flight: max_in_flight.max(1),
                max_queue,
                state: Mutex::default(),
            }),
        }
    }

    /// Wait for a slot as `key` (with `weight` turns per round), for at most
    /// `deadline`.
    pub async fn acquire(
        &self,
        key: &str,
        weight: u32,
        deadline: Duration,
    ) -> Result<Permit, Rejected> {
        let (id, rx) = {
            let mut st = self.shared.lock();
            if st.in_flight < self.shared.max_in_flight && st.queued == 0 {
                st.in_flight += 1;
                return Ok(self.permit());
            }
            if st.queued >= self.shared.max_queue {
                return Err(Rejected::QueueFull);
            }
            st.enqueue(key, weight.max(1))
        };
        // If this future is dropped while waiting (the client left), the
        // guard takes the waiter out of the queue.
        let mut guard = Waiting {
            shared: &self.shared,
            key,
            id,
            armed: true,
        };
        let outcome = tokio::time::timeout(deadline, rx).await;
        guard.armed = false;
        match outcome {
            Ok(Ok(())) => Ok(self.permit()),
            // Our sender vanished only if the admission itself went away.
            Ok(Err(_)) => Err(Rejected::Timeout),
            Err(_) => {
                if self.shared.lock().remove(key, id) {
                    Err(Rejected::Timeout)
                } else {
                    // Granted in the same instant the deadline passed: the
                    // slot is ours, take it rather than leak it.
                    Ok(self.permit())
                }
            }
        }
    }

    fn permit(&self) -> Permit {
        Permit {
            admission: self.shared.clone(),
        }
    }

    pub fn stats(&self) -> AdmissionStats {
        let st = self.shared.lock();
        AdmissionStats {
            in_flight: st.in_flight,
            queued: st.queued,
            max_in_flight: self.shared.max_in_flight,
            max_queue: self.shared.max_queue,
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot was freed: hand it to the next waiter in turn, if any.
    fn release(&self) {
        let mut st = self.lock();
        st.in_flight -= 1;
        while st.in_flight < self.max_in_flight {
            let Some(tx) = st.next_waiter() else { break };
            st.in_flight += 1;
            if tx.send(()).is_err() {
                st.in_flight -= 1; // the waiter gave up; try the next
            }
        }
    }
}

impl State {
    fn enqueue(&mut self, key: &str, weight: u32) -> (u64, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let id = self.next_id;
        self.next_id += 1;
        self.queued += 1;
        let key: Arc<str> = Arc::from(key);
        let line = self.lines.entry(key.clone()).or_insert_with(|| Line {
            weight,
            credit: weight,
            waiters: VecDeque::new(),
        });
        line.weight = weight;
        if line.waiters.is_empty() {
            self.ring.push_back(key);
        }
        line.waiters.push_back((id, tx));
        (id, rx)
    }

    /// Deficit round-robin: the key at the front of the ring takes one turn
    /// of its credit; out of credit or waiters, it goes to the back.
    fn next_waiter(&mut self) -> Option<oneshot::Sender<()>> {
        let key = self.ring.pop_front()?;
        let line = self.lines.get_mut(&key)?;
        let (_, tx) = line.waiters.pop_front()?;
        self.queued -= 1;
        line.credit = line.credit.saturating_sub(1);
        if line.waiters.is_empty() {
            self.lines.remove(&key);
        } else if line.credit == 0 {
            line.credit = line.weight;
            self.ring.push_back(key);
        } else {
            self.ring.push_front(key);
        }
        Some(tx)
    }

    /// Take a waiter out of the queue (its deadline passed); false if it was
    /// already granted.
    fn remove(&mut self, key: &str, id: u64) -> bool {
        let Some(line) = self.lines.get_mut(key) else {
            return false;
        };
        let Some(pos) = line.waiters.iter().position(|(w, _)| *w == id) else {
            return false;
        };
        line.waiters.remove(pos);
        self.queued -= 1;
        if line.waiters.is_empty() {
            self.lines.remove(key);
            self.ring.retain(|k| &**k != key);
        }
        true
    }
}

#[cfg(test)]
mod tests;
