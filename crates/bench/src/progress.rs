//! A progress bar on stderr, shown only when stderr is a terminal; it
//! polls the live counters of a [`Stats`] four times a second.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::stats::Stats;

/// How the bar's position is measured.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Measure {
    /// Milliseconds elapsed out of this duration.
    Time(Duration),
    /// Operations finished (ok, rejected or failed) out of this many.
    Count(u64),
}

/// A running bar; [`Progress::finish`] clears it.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// A bar labelled `label`, or nothing if `enabled` is false or stderr
    /// is not a terminal.
    pub(crate) fn start(enabled: bool, label: &str, measure: Measure, stats: Arc<Stats>) -> Self {
        if !enabled || !std::io::stderr().is_terminal() {
            return Self {
                bar: None,
                ticker: None,
            };
        }
        let len = match measure {
            Measure::Time(d) => d.as_millis() as u64,
            Measure::Count(n) => n,
        };
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:>9} [{bar:30}] {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_owned());
        let ticker = tokio::spawn(tick(bar.clone(), measure, stats));
        Self {
            bar: Some(bar),
            ticker: Some(ticker),
        }
    }

    /// Stop and erase the bar.
    pub(crate) fn finish(self) {
        if let Some(t) = &self.ticker {
            t.abort();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

async fn tick(bar: ProgressBar, measure: Measure, stats: Arc<Stats>) {
    let started = Instant::now();
    let mut every = tokio::time::interval(Duration::from_millis(250));
    loop {
        every.tick().await;
        let ok = stats.ok.load(Ordering::Relaxed);
        let rejected = stats.rejected.load(Ordering::Relaxed);
        let failed = stats.failed.load(Ordering::Relaxed);
        let elapsed = started.elapsed();
        bar.set_position(match measure {
            Measure::Time(_) => elapsed.as_millis() as u64,
            Measure::Count(_) => ok + rejected + failed,
        });
        let rate = ok as f64 / elapsed.as_secs_f64().max(0.001);
        bar.set_message(format!(
            "{ok} ok ({rate:.0}/s), {rejected} rejected, {failed} errors"
        ));
    }
}
