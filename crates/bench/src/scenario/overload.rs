//! `overload`: many more clients than the server admits, calling flat out
//! from the start. A legacy client without a session (never opened,
//! rejected, or lost with a 4xx) opens one first. Admitted calls and
//! rejections (503/429, of calls or of session opens) are timed apart. A
//! refused client waits the server's `Retry-After` and up to as long again
//! at random (jitter, so the clients refused in one burst do not all come
//! back in one; at most until the end of the run) before it tries again,
//! as a client should; with `--ignore-retry-after` it tries again at once.
//! With `--warmup`, the clients run that long before anything is measured
//! (the opening burst left out), then `--duration` more.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Env, back_off, close_all, each, open};
use crate::args::{Era, OverloadArgs};
use crate::client::Client;
use crate::procfs::Meter;
use crate::progress::Measure;
use crate::report::Report;
use crate::stats::{ErrorKind, Stats};

pub(crate) async fn run(env: &Env, args: &OverloadArgs) -> Result<Report, String> {
    let calls = Arc::new(Stats::new());
    let opens = Arc::new(Stats::new());
    let progress = env.progress("overload", Measure::Time(env.common.duration), &calls);
    let warmup = args.warmup.unwrap_or_default();
    let warm = Instant::now() + warmup;
    let deadline = env.deadline() + warmup;
    let plan = Arc::clone(&env.plan);
    let patient = !args.ignore_retry_after;
    let (c_stats, o_stats) = (Arc::clone(&calls), Arc::clone(&opens));
    let clients = each(0..args.clients, move |who, _| {
        let (calls, opens) = (Arc::clone(&c_stats), Arc::clone(&o_stats));
        let mut c = Client::new(Arc::clone(&plan));
        let mut seed = (who as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        async move {
            while Instant::now() < deadline {
                let measured = Instant::now() >= warm;
                step(who, &mut c, measured.then_some((&*calls, &*opens))).await;
                if patient && let Some(wait) = c.retry_after.take() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(jittered(wait, &mut seed).min(left)).await;
                }
            }
            c
        }
    });
    // The meter starts when the warm-up ends, while the clients run.
    let (clients, meter) = tokio::join!(clients, async {
        tokio::time::sleep_until(warm.into()).await;
        (Meter::start(env.common.pid), Instant::now())
    });
    let (meter, started) = (meter.0?, meter.1);
    let elapsed = started.elapsed();
    progress.finish();
    let mut totals = calls.totals();
    let measured = meter.finish(totals.ok.len(), None);
    close_all(clients, &opens).await;
    totals.merge_failures(&opens.totals());
    let mut report = env.report(args.clients, "tools/call");
    report.fill(elapsed, &totals);
    report.measured(measured);
    Ok(report)
}

/// Open a session if the client needs one, else make one call; recorded
/// in `stats` (calls, opens) unless still warming up.
async fn step(who: usize, c: &mut Client, stats: Option<(&Stats, &Stats)>) {
    let t = Instant::now();
    if c.era() == Era::Legacy && c.session.is_none() {
        let r = open(c).await;
        if let Some((_, opens)) = stats {
            opens.record(who, t.elapsed(), &r);
        }
        back_off(&r).await;
        return;
    }
    let r = c.call().await;
    if let Some((calls, _)) = stats {
        calls.record(who, t.elapsed(), &r);
    }
    if matches!(r, Err(ErrorKind::Http4xx)) {
        c.session = None;
    }
    back_off(&r).await;
}

/// `wait` plus a random part of it (xorshift on the client's own seed).
fn jittered(wait: Duration, seed: &mut u64) -> Duration {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    wait + wait.mul_f64((*seed >> 11) as f64 / (1u64 << 53) as f64)
}
