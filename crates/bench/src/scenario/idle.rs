//! `idle`: open N sessions (modern era: N idle connections, each having
//! answered a `tools/list`), optionally each with a held stream; hold them
//! for the duration; then read the server's RSS, check that a random sample
//! still answers a probe (`ping`; modern: `tools/list`), stop the streams
//! and delete the sessions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{Env, PHASE_LIMIT, each, hold, open};
use crate::args::{Era, IdleArgs};
use crate::client::Client;
use crate::procfs::Meter;
use crate::progress::Measure;
use crate::report::{IdleDetails, Percentiles, Report};
use crate::stats::{ErrorKind, Stats, Totals};

pub(crate) async fn run(env: &Env, args: &IdleArgs) -> Result<Report, String> {
    let opens = Arc::new(Stats::new());
    let meter = Meter::start(env.common.pid)?;
    let progress = env.progress("open", Measure::Count(args.sessions.into()), &opens);
    let started = Instant::now();
    let (openers, mut held) = open_held(env, args, &opens).await;
    let open_elapsed = started.elapsed();
    progress.finish();
    let stream_stats = Arc::new(Stats::new());
    let streams = match args.streams {
        true => Some(hold::open(&held, args.concurrency, &stream_stats).await),
        false => None,
    };
    let progress = env.progress("hold", Measure::Time(env.common.duration), &opens);
    tokio::time::sleep(env.common.duration).await;
    progress.finish();
    let sessions = held.len() as u64;
    let measured = meter.finish(sessions, Some(sessions));
    let probes = probe(&mut held, args.sample).await;
    let mut details = details(sessions, &probes, env.common.duration);
    if let Some(streams) = streams {
        details.streams_opened = streams.opened;
        details.streams_alive = streams.stop(&stream_stats).await;
    }
    delete_all(openers, held, &opens).await;
    let mut totals = opens.totals();
    totals.merge_failures(&probes);
    totals.merge_failures(&stream_stats.totals());
    let mut report = env.report(args.sessions, "session open");
    report.fill(open_elapsed, &totals);
    report.measured(measured);
    report.idle = Some(details);
    Ok(report)
}

fn details(sessions: u64, probes: &Totals, hold: Duration) -> IdleDetails {
    IdleDetails {
        sessions_opened: sessions,
        sample: probes.ok.len() + probes.kinds.iter().sum::<u64>(),
        sample_ok: probes.ok.len(),
        sample_latency_us: Percentiles::of(&probes.ok),
        hold_s: hold.as_secs_f64(),
        ..IdleDetails::default()
    }
}

/// `concurrency` workers open the sessions; returns the workers (whose
/// connections delete the sessions at the end) and the held clients.
async fn open_held(env: &Env, args: &IdleArgs, stats: &Arc<Stats>) -> (Vec<Client>, Vec<Client>) {
    let next = Arc::new(AtomicU32::new(0));
    let (n, plan, shared) = (args.sessions, Arc::clone(&env.plan), Arc::clone(stats));
    let limit = Instant::now() + PHASE_LIMIT;
    let workers = each(0..args.concurrency.min(n), move |who, _| {
        let (next, stats) = (Arc::clone(&next), Arc::clone(&shared));
        let mut opener = Client::new(Arc::clone(&plan));
        async move {
            let mut held = Vec::new();
            while Instant::now() < limit && next.fetch_add(1, Ordering::Relaxed) < n {
                let t = Instant::now();
                let r = open_one(&mut opener).await;
                stats.record(who, t.elapsed(), &r);
                held.extend(r.ok());
            }
            (opener, held)
        }
    })
    .await;
    let (openers, held): (Vec<_>, Vec<_>) = workers.into_iter().unzip();
    (openers, held.into_iter().flatten().collect())
}

/// Legacy: a session opened over the worker's connection, held without a
/// connection. Modern: a new connection that has answered a probe.
async fn open_one(opener: &mut Client) -> Result<Client, ErrorKind> {
    let mut held = opener.fork();
    match opener.era() {
        Era::Legacy => {
            open(opener).await?;
            held.session = opener.session.take();
        }
        Era::Modern => held.probe().await?,
    }
    Ok(held)
}

/// Probe `k` random held clients at once.
async fn probe(held: &mut Vec<Client>, k: u32) -> Totals {
    let k = (k as usize).min(held.len());
    shuffle_prefix(held, k, seed());
    let rest = held.split_off(k);
    let stats = Arc::new(Stats::new());
    let shared = Arc::clone(&stats);
    let sample = std::mem::take(held);
    *held = each(sample, move |who, mut c| {
        let stats = Arc::clone(&shared);
        async move {
            let t = Instant::now();
            let r = c.probe().await;
            stats.record(who, t.elapsed(), &r);
            c
        }
    })
    .await;
    held.extend(rest);
    stats.totals()
}

/// Legacy: DELETE every held session through the workers' connections.
async fn delete_all(openers: Vec<Client>, held: Vec<Client>, stats: &Arc<Stats>) {
    let mut queues: Vec<Vec<Client>> = openers.iter().map(|_| Vec::new()).collect();
    let workers = queues.len().max(1);
    for (i, c) in held.into_iter().filter(|c| c.session.is_some()).enumerate() {
        if let Some(q) = queues.get_mut(i % workers) {
            q.push(c);
        }
    }
    let shared = Arc::clone(stats);
    each(
        openers.into_iter().zip(queues),
        move |who, (mut opener, queue)| {
            let stats = Arc::clone(&shared);
            async move {
                for c in queue {
                    opener.session = c.session;
                    let t = Instant::now();
                    if let Err(e) = opener.close().await {
                        stats.record(who, t.elapsed(), &Err::<(), _>(e));
                    }
                }
            }
        },
    )
    .await;
}

/// Move `k` elements chosen at random to the front (partial Fisher–Yates).
fn shuffle_prefix<T>(v: &mut [T], k: usize, mut state: u64) {
    for i in 0..k.min(v.len()) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = i + (state % (v.len() - i) as u64) as usize;
        v.swap(i, j);
    }
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    (nanos ^ u64::from(std::process::id())) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_a_prefix_into_a_permutation() {
        let mut v: Vec<u32> = (0..100).collect();
        shuffle_prefix(&mut v, 10, 12345);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(&v[..10], &(0..10).collect::<Vec<_>>()[..]);
        shuffle_prefix(&mut v, 500, 7);
        shuffle_prefix(&mut Vec::<u32>::new(), 3, 7);
    }
}
