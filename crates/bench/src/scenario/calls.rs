//! `calls`: N sessions are opened first; then each calls the tool in a loop
//! for the duration (or until `--max-calls`); only that phase is measured.
//! The sessions are deleted afterwards.

use std::sync::Arc;
use std::time::Instant;

use super::{Env, budget, close_all, each, open_all, take};
use crate::args::CallsArgs;
use crate::client::Client;
use crate::procfs::Meter;
use crate::progress::Measure;
use crate::report::Report;
use crate::stats::Stats;

pub(crate) async fn run(env: &Env, args: &CallsArgs) -> Result<Report, String> {
    let setup = Arc::new(Stats::new());
    let clients = open_all(&env.plan, args.sessions, &setup).await;
    let stats = Arc::new(Stats::new());
    let meter = Meter::start(env.common.pid)?;
    let progress = env.progress("calls", Measure::Time(env.common.duration), &stats);
    let started = Instant::now();
    let clients = call_loops(env, clients, &stats, args.max_calls).await;
    let elapsed = started.elapsed();
    progress.finish();
    let mut totals = stats.totals();
    let measured = meter.finish(totals.ok.len(), None);
    close_all(clients, &setup).await;
    totals.merge_failures(&setup.totals());
    let mut report = env.report(args.sessions, "tools/call");
    report.fill(elapsed, &totals);
    report.measured(measured);
    Ok(report)
}

/// Every client calls in a loop until the deadline or the budget is spent.
async fn call_loops(
    env: &Env,
    clients: Vec<Client>,
    stats: &Arc<Stats>,
    max_calls: Option<u64>,
) -> Vec<Client> {
    let deadline = env.deadline();
    let budget = budget(max_calls);
    let stats = Arc::clone(stats);
    each(clients, move |who, mut c| {
        let (stats, budget) = (Arc::clone(&stats), Arc::clone(&budget));
        async move {
            while Instant::now() < deadline && take(&budget) {
                let t = Instant::now();
                let r = c.call().await;
                stats.record(who, t.elapsed(), &r);
            }
            c
        }
    })
    .await
}
