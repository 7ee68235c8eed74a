//! Held SSE streams for `idle --streams`: opened with bounded concurrency,
//! each then drained by a task until told to stop; a stream that ends
//! before that is counted as lost.

use std::sync::Arc;
use std::time::Instant;

use http_body_util::BodyExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::each;
use crate::client::{Client, Stream};
use crate::stats::{ErrorKind, Stats};

/// The running stream tasks.
#[derive(Debug)]
pub(crate) struct Streams {
    tasks: JoinSet<bool>,
    stop: watch::Sender<bool>,
    /// How many streams were opened.
    pub opened: u64,
}

/// A stream per held client, opened `concurrency` at a time; open latency
/// and failures go to `stats`.
pub(crate) async fn open(held: &[Client], concurrency: u32, stats: &Arc<Stats>) -> Streams {
    let gate = Arc::new(Semaphore::new(concurrency as usize));
    let shared = Arc::clone(stats);
    let forks: Vec<Client> = held.iter().map(Client::fork).collect();
    let streams = each(forks, move |who, fork| {
        let (gate, stats) = (Arc::clone(&gate), Arc::clone(&shared));
        async move {
            let _permit = gate.acquire_owned().await.ok()?;
            let t = Instant::now();
            let r = fork.stream().await;
            stats.record(who, t.elapsed(), &r);
            r.ok()
        }
    })
    .await;
    let (stop, _) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for s in streams.into_iter().flatten() {
        tasks.spawn(drain(s, stop.subscribe()));
    }
    Streams {
        opened: tasks.len() as u64,
        tasks,
        stop,
    }
}

impl Streams {
    /// Stop every stream; the number still open. Lost ones are recorded in `stats`.
    pub(crate) async fn stop(mut self, stats: &Stats) -> u64 {
        let _ = self.stop.send(true);
        let mut alive = 0;
        while let Some(done) = self.tasks.join_next().await {
            match done {
                Ok(true) => alive += 1,
                _ => stats.record(0, Default::default(), &Err::<(), _>(ErrorKind::StreamLost)),
            }
        }
        alive
    }
}

/// Read and discard events until stopped (true) or the stream ends (false).
async fn drain(mut s: Stream, mut stop: watch::Receiver<bool>) -> bool {
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return true,
            frame = s.body.frame() => match frame {
                Some(Ok(_)) => continue,
                _ => return false,
            },
        }
    }
}
