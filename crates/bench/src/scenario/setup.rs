//! `setup`: C workers, each over one keep-alive connection, cycle sessions
//! flat out — initialize, notifications/initialized, DELETE — for the
//! duration (or until `--max-cycles`). Not applicable to the modern era,
//! which has no sessions.

use std::sync::Arc;
use std::time::Instant;

use super::{Env, budget, each, take};
use crate::args::{Era, SetupArgs};
use crate::client::Client;
use crate::procfs::Meter;
use crate::progress::Measure;
use crate::report::Report;
use crate::stats::{ErrorKind, Stats};

pub(crate) async fn run(env: &Env, args: &SetupArgs) -> Result<Report, String> {
    let mut report = env.report(args.concurrency, "session setup cycle");
    if env.plan.era == Era::Modern {
        report.note =
            Some("not applicable: the modern (stateless) era has no sessions to set up".into());
        return Ok(report);
    }
    let stats = Arc::new(Stats::new());
    let meter = Meter::start(env.common.pid)?;
    let progress = env.progress("setup", Measure::Time(env.common.duration), &stats);
    let started = Instant::now();
    let deadline = env.deadline();
    let budget = budget(args.max_cycles);
    let plan = Arc::clone(&env.plan);
    let shared = Arc::clone(&stats);
    each(0..args.concurrency, move |who, _| {
        let (stats, budget) = (Arc::clone(&shared), Arc::clone(&budget));
        let mut c = Client::new(Arc::clone(&plan));
        async move {
            while Instant::now() < deadline && take(&budget) {
                let t = Instant::now();
                let r = cycle(&mut c).await;
                stats.record(who, t.elapsed(), &r);
                super::back_off(&r).await;
            }
        }
    })
    .await;
    let elapsed = started.elapsed();
    progress.finish();
    let totals = stats.totals();
    report.fill(elapsed, &totals);
    report.measured(meter.finish(totals.ok.len(), None));
    Ok(report)
}

/// One session from initialize to DELETE.
async fn cycle(c: &mut Client) -> Result<(), ErrorKind> {
    super::open(c).await?;
    c.close().await
}
