//! The result of a run: a serializable [`Report`] (one JSON line with
//! `--json`) and its human-readable rendering.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::procfs::{Measured, ServerUsage, per, secs};
use crate::stats::Totals;

/// Latency percentiles in microseconds, read from a histogram with three
/// significant figures (so each is within 0.1% of the exact value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentiles {
    /// Operations measured (never 0: an empty set has no `Percentiles`).
    pub count: u64,
    /// The mean, rounded to 0.1 µs.
    pub mean: f64,
    /// The median.
    pub p50: u64,
    /// The 90th percentile.
    pub p90: u64,
    /// The 99th percentile.
    pub p99: u64,
    /// The 99.9th percentile.
    pub p99_9: u64,
    /// The slowest.
    pub max: u64,
}

impl Percentiles {
    /// `None` for an empty histogram.
    pub(crate) fn of(h: &Histogram<u64>) -> Option<Self> {
        (!h.is_empty()).then(|| Self {
            count: h.len(),
            mean: (h.mean() * 10.0).round() / 10.0,
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            max: h.max(),
        })
    }
}

/// What `idle` found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IdleDetails {
    /// Sessions (modern era: connections) opened and held.
    pub sessions_opened: u64,
    /// Streams opened on them (0 without `--streams`).
    pub streams_opened: u64,
    /// Streams still open at the end of the hold.
    pub streams_alive: u64,
    /// Sessions probed after the hold (at most `--sample`).
    pub sample: u64,
    /// Sampled sessions that answered a probe (ping; modern: tools/list) after the hold.
    pub sample_ok: u64,
    /// Latency of the probes that answered; `None` if none did.
    pub sample_latency_us: Option<Percentiles>,
    /// How long the sessions were held, in seconds (`--duration`).
    pub hold_s: f64,
}

/// The outcome of one scenario run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// The scenario's name ([`crate::Scenario::name`]).
    pub scenario: String,
    /// The protocol era's name ([`crate::Era::name`]).
    pub era: String,
    /// The target endpoint, as given with `--url`.
    pub url: String,
    /// Sessions, clients or workers, as the scenario defines them.
    pub clients: u64,
    /// What `ok` counts: `tools/call`, `session setup cycle`, `session open`.
    pub operation: String,
    /// Length of the measured phase in seconds.
    pub elapsed_s: f64,
    /// Operations that succeeded.
    pub ok: u64,
    /// `ok` per second of the measured phase.
    pub throughput_per_s: f64,
    /// Latency of successful operations (overload: admitted calls).
    /// `None` if none succeeded.
    pub latency_us: Option<Percentiles>,
    /// Answers 503/429.
    pub rejections: u64,
    /// `rejections` by kind (`http_503`, `http_429`); kinds with none
    /// left out.
    pub rejections_by_kind: BTreeMap<String, u64>,
    /// How long a rejection took to arrive; `None` if there were none.
    pub rejection_latency_us: Option<Percentiles>,
    /// Every other failure.
    pub errors: u64,
    /// `errors` by kind (`connect`, `timeout`, `http_5xx`, `jsonrpc_error`,
    /// `tool_error`, …); kinds with none left out.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// CPU time of this load generator during the measured phase.
    pub loadgen_cpu_us: u64,
    /// `loadgen_cpu_us` per successful operation, rounded to 0.1 µs;
    /// `None` if none succeeded.
    pub loadgen_cpu_per_op_us: Option<f64>,
    /// With `--pid`: the server's CPU time and RSS over the measured phase.
    pub server: Option<ServerUsage>,
    /// What `idle` found; `None` for the other scenarios.
    pub idle: Option<IdleDetails>,
    /// Why the scenario did not run, or what to know about its figures.
    pub note: Option<String>,
}

impl Report {
    /// Fill the counts, rates and percentiles from `totals`.
    pub(crate) fn fill(&mut self, elapsed: Duration, totals: &Totals) {
        self.elapsed_s = round3(elapsed.as_secs_f64());
        self.ok = totals.ok.len();
        self.throughput_per_s = (self.ok as f64 / secs(elapsed)).round();
        self.latency_us = Percentiles::of(&totals.ok);
        self.rejections = totals.rejected.len();
        self.rejections_by_kind = totals.rejections_by_kind();
        self.rejection_latency_us = Percentiles::of(&totals.rejected);
        self.errors_by_kind = totals.errors_by_kind();
        self.errors = self.errors_by_kind.values().sum();
    }

    /// Add the CPU and memory readings.
    pub(crate) fn measured(&mut self, m: Measured) {
        self.loadgen_cpu_us = m.loadgen_cpu_us;
        self.loadgen_cpu_per_op_us = per(m.loadgen_cpu_us as f64, self.ok).map(round1);
        self.server = m.server.map(|mut s| {
            s.cpu_per_op_us = s.cpu_per_op_us.map(round1);
            s.rss_delta_per_session_bytes = s.rss_delta_per_session_bytes.map(f64::round);
            s
        });
    }

    /// One line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#))
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn line(f: &mut fmt::Formatter<'_>, label: &str, p: &Option<Percentiles>) -> fmt::Result {
    let Some(p) = p else { return Ok(()) };
    writeln!(
        f,
        "  {label:<18} p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {:.1}, n={})",
        p.p50, p.p90, p.p99, p.p99_9, p.max, p.mean, p.count
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scenario, era, url) = (&self.scenario, &self.era, &self.url);
        writeln!(f, "switchboard bench {scenario} ({era} era) → {url}")?;
        if let Some(note) = &self.note {
            writeln!(f, "  note: {note}")?;
        }
        writeln!(
            f,
            "  {} clients, {:.2} s: {} × {} ok ({:.0}/s), {} rejected, {} errors",
            self.clients,
            self.elapsed_s,
            self.ok,
            self.operation,
            self.throughput_per_s,
            self.rejections,
            self.errors
        )?;
        line(f, "latency µs:", &self.latency_us)?;
        line(f, "rejection µs:", &self.rejection_latency_us)?;
        for (kind, n) in self.rejections_by_kind.iter().chain(&self.errors_by_kind) {
            writeln!(f, "  {kind:<18} {n}")?;
        }
        if let Some(idle) = &self.idle {
            idle.fmt(f)?;
        }
        self.fmt_usage(f)
    }
}

impl Report {
    fn fmt_usage(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = &self.operation;
        let cpu = self.loadgen_cpu_us as f64 / 1e6;
        write!(f, "  load generator CPU {cpu:.2} s")?;
        match self.loadgen_cpu_per_op_us {
            Some(per) => writeln!(f, " ({per:.1} µs per {op})")?,
            None => writeln!(f)?,
        }
        let Some(s) = &self.server else {
            return Ok(());
        };
        write!(
            f,
            "  server pid {}: CPU {:.2} s",
            s.pid,
            s.cpu_us as f64 / 1e6
        )?;
        if let Some(per) = s.cpu_per_op_us {
            write!(f, " ({per:.1} µs per {op})")?;
        }
        write!(f, "; RSS {} → {} KiB", s.rss_before_kib, s.rss_after_kib)?;
        if let Some(b) = s.rss_delta_per_session_bytes {
            write!(f, " ({:.2} KiB per session)", b / 1024.0)?;
        }
        writeln!(f)
    }
}

impl fmt::Display for IdleDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  held {:.1} s: {} sessions, {} streams opened, {} alive at the end; \
             sample {}/{} answered",
            self.hold_s,
            self.sessions_opened,
            self.streams_opened,
            self.streams_alive,
            self.sample_ok,
            self.sample
        )?;
        line(f, "sample µs:", &self.sample_latency_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{ErrorKind, Stats};

    #[test]
    fn percentiles_of_a_histogram() {
        let mut h = crate::stats::histogram();
        assert_eq!(Percentiles::of(&h), None);
        for v in 1..=1000u64 {
            h.record(v).expect("record");
        }
        let p = Percentiles::of(&h).expect("some");
        assert_eq!(
            (p.count, p.p50, p.p90, p.p99, p.max),
            (1000, 500, 900, 990, 1000)
        );
        assert_eq!(p.p99_9, 999);
        assert!((p.mean - 500.5).abs() < 0.2);
    }

    #[test]
    fn fills_and_renders() {
        let stats = Stats::new();
        for i in 0..10 {
            stats.record(i, Duration::from_millis(1), &Ok::<(), _>(()));
        }
        stats.record(
            0,
            Duration::from_millis(2),
            &Err::<(), _>(ErrorKind::Rejected429),
        );
        stats.record(
            0,
            Duration::from_millis(2),
            &Err::<(), _>(ErrorKind::JsonRpc),
        );
        let mut r = Report {
            scenario: "calls".into(),
            operation: "tools/call".into(),
            ..Report::default()
        };
        r.fill(Duration::from_secs(2), &stats.totals());
        r.measured(Measured {
            loadgen_cpu_us: 1000,
            server: None,
        });
        assert_eq!((r.ok, r.rejections, r.errors), (10, 1, 1));
        assert_eq!(r.throughput_per_s, 5.0);
        assert_eq!(r.loadgen_cpu_per_op_us, Some(100.0));
        let text = r.to_string();
        assert!(text.contains("10 × tools/call ok"), "{text}");
        assert!(text.contains("jsonrpc_error"), "{text}");
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("JSON");
        assert_eq!(v["errors_by_kind"]["jsonrpc_error"], 1);
        assert_eq!(v["rejections_by_kind"]["http_429"], 1);
        assert!(!r.to_json().contains('\n'));
    }
}
