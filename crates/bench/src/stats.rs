//! Outcome counting: latency histograms (µs) for successes and for
//! rejections, and a count per error kind. Workers record into a few
//! mutex-guarded shards (cheap, and bounded in memory however many clients
//! there are); the shards are merged at the end.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use parking_lot::Mutex;

/// Why a request did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// HTTP 503: the server refused for load.
    Rejected503,
    /// HTTP 429: the server refused for rate.
    Rejected429,
    Http4xx,
    Http5xx,
    /// Any other unexpected status (1xx, 3xx, 200 for a notification's 202…).
    HttpOther,
    /// TCP connect or HTTP handshake failed.
    Connect,
    /// The per-request timeout passed.
    Timeout,
    /// The connection failed mid-request.
    Io,
    /// A body that is not the JSON-RPC response expected.
    BadReply,
    /// A JSON-RPC error response.
    JsonRpc,
    /// A tool result with `isError: true`.
    ToolError,
    /// A held stream ended before the end of the hold.
    StreamLost,
}

const KINDS: usize = 12;

impl ErrorKind {
    const ALL: [ErrorKind; KINDS] = [
        ErrorKind::Rejected503,
        ErrorKind::Rejected429,
        ErrorKind::Http4xx,
        ErrorKind::Http5xx,
        ErrorKind::HttpOther,
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Io,
        ErrorKind::BadReply,
        ErrorKind::JsonRpc,
        ErrorKind::ToolError,
        ErrorKind::StreamLost,
    ];

    /// The name used in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ErrorKind::Rejected503 => "http_503",
            ErrorKind::Rejected429 => "http_429",
            ErrorKind::Http4xx => "http_4xx",
            ErrorKind::Http5xx => "http_5xx",
            ErrorKind::HttpOther => "http_other",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Io => "io",
            ErrorKind::BadReply => "bad_reply",
            ErrorKind::JsonRpc => "jsonrpc_error",
            ErrorKind::ToolError => "tool_error",
            ErrorKind::StreamLost => "stream_lost",
        }
    }

    /// A load-shedding answer rather than a failure.
    pub(crate) fn is_rejection(self) -> bool {
        matches!(self, ErrorKind::Rejected503 | ErrorKind::Rejected429)
    }

    /// The kind of a non-success HTTP status.
    pub(crate) fn from_status(status: u16) -> Self {
        match status {
            503 => ErrorKind::Rejected503,
            429 => ErrorKind::Rejected429,
            400..=499 => ErrorKind::Http4xx,
            500..=599 => ErrorKind::Http5xx,
            _ => ErrorKind::HttpOther,
        }
    }
}

/// A new latency histogram: 1 µs to 10 min, 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Merged counts.
#[derive(Debug, Clone)]
pub(crate) struct Totals {
    pub ok: Histogram<u64>,
    pub rejected: Histogram<u64>,
    pub kinds: [u64; KINDS],
}

impl Default for Totals {
    fn default() -> Self {
        Self {
            ok: histogram(),
            rejected: histogram(),
            kinds: [0; KINDS],
        }
    }
}

impl Totals {
    fn record(&mut self, took: Duration, outcome: Result<(), ErrorKind>) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        match outcome {
            Ok(()) => self.ok.saturating_record(us),
            Err(kind) => {
                self.kinds[kind as usize] += 1;
                if kind.is_rejection() {
                    self.rejected.saturating_record(us);
                }
            }
        }
    }

    /// Add everything of `other`.
    pub(crate) fn merge(&mut self, other: &Totals) {
        self.merge_failures(other);
        let _ = self.ok.add(&other.ok);
    }

    /// Add `other`'s rejections and errors, not its successes.
    pub(crate) fn merge_failures(&mut self, other: &Totals) {
        let _ = self.rejected.add(&other.rejected);
        for (a, b) in self.kinds.iter_mut().zip(other.kinds) {
            *a += b;
        }
    }

    /// Errors (rejections excluded) by kind name; kinds with none left out.
    pub(crate) fn errors_by_kind(&self) -> BTreeMap<String, u64> {
        self.by_kind(|k| !k.is_rejection())
    }

    /// Rejections by kind name.
    pub(crate) fn rejections_by_kind(&self) -> BTreeMap<String, u64> {
        self.by_kind(ErrorKind::is_rejection)
    }

    fn by_kind(&self, pick: impl Fn(ErrorKind) -> bool) -> BTreeMap<String, u64> {
        ErrorKind::ALL
            .iter()
            .filter(|k| pick(**k) && self.kinds[**k as usize] > 0)
            .map(|k| (k.name().to_owned(), self.kinds[*k as usize]))
            .collect()
    }
}

/// Shared by the workers of one phase.
#[derive(Debug)]
pub(crate) struct Stats {
    shards: Box<[Mutex<Totals>]>,
    /// Live counters for the progress bar.
    pub ok: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

const SHARDS: usize = 8;

impl Stats {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Totals::default())).collect(),
            ok: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Record one request of worker `who` that took `took`.
    pub(crate) fn record<T>(&self, who: usize, took: Duration, outcome: &Result<T, ErrorKind>) {
        let outcome = outcome.as_ref().map(|_| ()).map_err(|k| *k);
        let live = match outcome {
            Ok(()) => &self.ok,
            Err(k) if k.is_rejection() => &self.rejected,
            Err(_) => &self.failed,
        };
        live.fetch_add(1, Ordering::Relaxed);
        self.shards[who % SHARDS].lock().record(took, outcome);
    }

    /// Everything recorded so far, merged.
    pub(crate) fn totals(&self) -> Totals {
        let mut all = Totals::default();
        for shard in &self.shards {
            all.merge(&shard.lock());
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_merges() {
        let s = Stats::new();
        for i in 0..100u64 {
            s.record(i as usize, Duration::from_micros(i + 1), &Ok::<(), _>(()));
        }
        s.record(
            1,
            Duration::from_micros(50),
            &Err::<(), _>(ErrorKind::Rejected503),
        );
        s.record(
            2,
            Duration::from_micros(7),
            &Err::<(), _>(ErrorKind::Timeout),
        );
        s.record(
            3,
            Duration::from_micros(7),
            &Err::<(), _>(ErrorKind::Timeout),
        );
        let t = s.totals();
        assert_eq!(t.ok.len(), 100);
        assert_eq!(t.ok.max(), 100);
        assert_eq!(t.rejected.len(), 1);
        assert_eq!(t.errors_by_kind().get("timeout"), Some(&2));
        assert_eq!(t.errors_by_kind().len(), 1);
        assert_eq!(t.rejections_by_kind().get("http_503"), Some(&1));
        assert_eq!(s.ok.load(Ordering::Relaxed), 100);
        let mut other = Totals::default();
        other.merge_failures(&t);
        assert_eq!(other.ok.len(), 0);
        assert_eq!(other.rejected.len(), 1);
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(ErrorKind::from_status(503), ErrorKind::Rejected503);
        assert_eq!(ErrorKind::from_status(429), ErrorKind::Rejected429);
        assert_eq!(ErrorKind::from_status(404), ErrorKind::Http4xx);
        assert_eq!(ErrorKind::from_status(500), ErrorKind::Http5xx);
        assert_eq!(ErrorKind::from_status(302), ErrorKind::HttpOther);
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "ALL is in declaration order");
        }
    }
}
