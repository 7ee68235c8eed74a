//! The four scenarios and what they share: the run's environment, a
//! task per client joined at the end of each phase, and session open/close
//! for a whole set of clients.

mod calls;
mod hold;
mod idle;
mod overload;
mod setup;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::args::{CommonArgs, Scenario};
use crate::client::Client;
use crate::payload::Plan;
use crate::progress::{Measure, Progress};
use crate::report::Report;
use crate::stats::{ErrorKind, Stats};

/// The longest an unmeasured phase (opening or deleting `idle`'s
/// sessions) may take; what is left then is skipped.
pub(crate) const PHASE_LIMIT: Duration = Duration::from_secs(600);

/// What every scenario gets.
#[derive(Debug)]
pub(crate) struct Env {
    pub plan: Arc<Plan>,
    pub common: CommonArgs,
    pub scenario: &'static str,
}

impl Env {
    /// A bar for this run (if enabled and on a terminal).
    pub(crate) fn progress(&self, label: &str, measure: Measure, stats: &Arc<Stats>) -> Progress {
        Progress::start(!self.common.no_progress, label, measure, Arc::clone(stats))
    }

    /// An empty report naming the scenario, era and target.
    pub(crate) fn report(&self, clients: u32, operation: &str) -> Report {
        Report {
            scenario: self.scenario.to_owned(),
            era: self.common.era.name().to_owned(),
            url: self.plan.target.url.clone(),
            clients: clients.into(),
            operation: operation.to_owned(),
            ..Report::default()
        }
    }

    /// When a phase that starts now must stop.
    pub(crate) fn deadline(&self) -> Instant {
        Instant::now() + self.common.duration
    }
}

/// Run the scenario of `scenario` against `plan`.
pub(crate) async fn run(scenario: &Scenario, plan: Arc<Plan>) -> Result<Report, String> {
    let env = Env {
        plan,
        common: scenario.common().clone(),
        scenario: scenario.name(),
    };
    let mut report = match scenario {
        Scenario::Calls(a) => calls::run(&env, a).await,
        Scenario::Idle(a) => idle::run(&env, a).await,
        Scenario::Setup(a) => setup::run(&env, a).await,
        Scenario::Overload(a) => overload::run(&env, a).await,
    }?;
    if report.note.is_none()
        && report
            .errors_by_kind
            .contains_key(ErrorKind::Connect.name())
    {
        report.note = Some(
            "connect errors: is the server up? Many clients need `ulimit -n` (here and in \
             the server) above their number, and free ephemeral ports"
                .into(),
        );
    }
    Ok(report)
}

/// Run `f(index, item)` as a task per item and collect the results of
/// those that did not panic.
pub(crate) async fn each<T, R, F, Fut>(items: impl IntoIterator<Item = T>, f: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(usize, T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    let mut set = JoinSet::new();
    for (i, item) in items.into_iter().enumerate() {
        set.spawn(f(i, item));
    }
    let mut out = Vec::with_capacity(set.len());
    while let Some(done) = set.join_next().await {
        if let Ok(r) = done {
            out.push(r);
        }
    }
    out
}

/// Take one unit of a shared budget; false when it is spent.
pub(crate) fn take(budget: &AtomicU64) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

/// A budget of `limit` operations (unlimited if `None`).
pub(crate) fn budget(limit: Option<u64>) -> Arc<AtomicU64> {
    Arc::new(AtomicU64::new(limit.unwrap_or(u64::MAX)))
}

/// Open a session; if that fails half-way, delete what exists.
pub(crate) async fn open(c: &mut Client) -> Result<(), ErrorKind> {
    let r = c.open().await;
    if r.is_err() {
        let _ = c.close().await;
    }
    r
}

/// `n` new clients with their sessions open (legacy era), failures
/// recorded in `stats` and left out.
pub(crate) async fn open_all(plan: &Arc<Plan>, n: u32, stats: &Arc<Stats>) -> Vec<Client> {
    let plan = Arc::clone(plan);
    let stats = Arc::clone(stats);
    let opened = each(0..n, move |who, _| {
        let (plan, stats) = (Arc::clone(&plan), Arc::clone(&stats));
        async move {
            let mut c = Client::new(plan);
            let started = Instant::now();
            let r = open(&mut c).await;
            stats.record(who, started.elapsed(), &r);
            r.ok().map(|()| c)
        }
    })
    .await;
    opened.into_iter().flatten().collect()
}

/// Close every client's session, failures recorded in `stats`.
pub(crate) async fn close_all(clients: Vec<Client>, stats: &Arc<Stats>) {
    let stats = Arc::clone(stats);
    each(clients, move |who, mut c| {
        let stats = Arc::clone(&stats);
        async move {
            let started = Instant::now();
            if let Err(e) = c.close().await {
                stats.record(who, started.elapsed(), &Err::<(), _>(e));
            }
        }
    })
    .await;
}

/// A short pause after a failure that would otherwise spin (connect refused,
/// out of file descriptors).
pub(crate) async fn back_off<T>(r: &Result<T, ErrorKind>) {
    if matches!(r, Err(ErrorKind::Connect)) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
