//! The access line's own JSON writer. The generic JSON formatter of
//! `tracing-subscriber` spent about 10 µs a request on this one line
//! (serde's map machinery over a `fmt::Write` adaptor that re-checks
//! every chunk as UTF-8, then a copy); this layer writes the same line —
//! `timestamp`, `level`, the event's fields in order (`message` first),
//! `target` — straight into the log buffer. Strings are escaped by
//! `serde_json`, numbers written by it too, so the line reads exactly as
//! the generic formatter's did (docs/observability.md).

use std::cell::Cell;

use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::layer::{Context, Layer};

use switchboard_observe::access::Line;

use super::logwriter::Buffered;

/// Whether `meta` is an access line's.
pub(crate) fn is_access(meta: &Metadata<'_>) -> bool {
    meta.target() == switchboard_observe::access::TARGET
}

/// The layer writing access lines as JSON (filter it with [`is_access`]).
#[derive(Debug)]
pub(crate) struct AccessJson(Buffered);

impl AccessJson {
    pub(crate) fn new(writer: Buffered) -> Self {
        Self(writer)
    }
}

impl<S: Subscriber> Layer<S> for AccessJson {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut line = self.0.line();
        write_line(event, line.buf());
    }
}

/// One event as a JSON object on a line of its own.
pub(crate) fn write_line(event: &Event<'_>, out: &mut Vec<u8>) {
    let meta = event.metadata();
    out.extend_from_slice(br#"{"timestamp":""#);
    timestamp(out, std::time::SystemTime::now());
    out.extend_from_slice(br#"","level":"#);
    string(out, meta.level().as_str());
    event.record(&mut Fields {
        out,
        debug: String::new(),
    });
    out.extend_from_slice(br#","target":"#);
    string(out, meta.target());
    out.extend_from_slice(b"}\n");
}

/// An access record's line, written from its fields: the line
/// [`write_line`] writes for the event [`Line::emit`] makes (the same
/// members in the same order, absent ones left out), without `tracing`'s
/// dispatch and field visitor, which were two thirds of its cost. The
/// binary's JSON log sets it with `access::write_with`.
pub(crate) fn write_record(line: &Line<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"timestamp":""#);
    timestamp(out, std::time::SystemTime::now());
    out.extend_from_slice(br#"","level":"INFO","message":"request""#);
    member(out, "request_id", Some(line.request_id));
    member(out, "front", Some(line.front));
    member(out, "tenant", line.tenant);
    member(out, "session", line.session);
    member(out, "method", line.method);
    member(out, "name", line.name);
    member(out, "status", line.status);
    member(out, "outcome", Some(line.outcome));
    member(out, "code", line.code);
    member(out, "latency_ms", Some(line.latency_ms));
    out.extend_from_slice(br#","target":"#);
    string(out, switchboard_observe::access::TARGET);
    out.extend_from_slice(b"}\n");
}

/// `,"key":value` if there is a value (`key` needs no escape).
fn member(out: &mut Vec<u8>, key: &str, value: Option<impl serde::Serialize>) {
    let Some(value) = value else { return };
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    let _ = serde_json::to_writer(out, &value);
}

/// `now` as the generic formatter's timer writes it (UTC,
/// `2026-11-26T00:41:09.974362Z`: only digits and `-T:.Z`, nothing to
/// escape), its date and time to the second formatted once a second per
/// thread; outside years 1970–9999 by that timer itself.
fn timestamp(out: &mut Vec<u8>, now: std::time::SystemTime) {
    thread_local! {
        static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
    }
    /// 9999-12-31T23:59:59Z.
    const LAST: u64 = 253_402_300_799;
    let since = now.duration_since(std::time::UNIX_EPOCH);
    let Some(d) = since.ok().filter(|d| d.as_secs() <= LAST) else {
        let _ = SystemTime.format_time(&mut Writer::new(&mut Utf8(out)));
        return;
    };
    let secs = d.as_secs();
    SECOND.with(|cached| {
        let (second, mut text) = cached.get();
        if second != secs {
            text = civil(secs);
            cached.set((secs, text));
        }
        out.extend_from_slice(&text);
    });
    out.push(b'.');
    digits(out, u64::from(d.subsec_micros()), 6);
    out.push(b'Z');
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` after the epoch (UTC, years up to
/// 9999): the civil date of a day number by Howard Hinnant's
/// `civil_from_days`.
fn civil(secs: u64) -> [u8; 19] {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let mut v = Vec::with_capacity(19);
    for (n, width, sep) in [
        (year, 4, b'-'),
        (month, 2, b'-'),
        (day, 2, b'T'),
        (rest / 3600, 2, b':'),
        (rest / 60 % 60, 2, b':'),
        (rest % 60, 2, 0),
    ] {
        digits(&mut v, n, width);
        if sep != 0 {
            v.push(sep);
        }
    }
    let mut text = [0; 19];
    text.copy_from_slice(&v);
    text
}

/// `n` in decimal, zero-padded to `width` digits (`n` has no more).
fn digits(out: &mut Vec<u8>, n: u64, width: u32) {
    for i in (0..width).rev() {
        out.push(b'0' + (n / 10u64.pow(i) % 10) as u8);
    }
}

/// A JSON string, quoted and escaped.
fn string(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(out, s);
}

/// The event's fields as members `,"name":value`.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    /// Scratch for `Debug` values (the message).
    debug: String,
}

impl Fields<'_> {
    fn key(&mut self, field: &Field) {
        self.out.push(b',');
        string(self.out, field.name());
        self.out.push(b':');
    }

    fn scalar(&mut self, field: &Field, value: impl serde::Serialize) {
        self.key(field);
        let _ = serde_json::to_writer(&mut *self.out, &value);
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        string(self.out, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        self.debug.clear();
        let _ = write!(self.debug, "{value:?}");
        self.key(field);
        string(self.out, &self.debug);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.scalar(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.scalar(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.scalar(field, value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.scalar(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.scalar(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.scalar(field, value);
    }
}

/// `fmt::Write` into the line's bytes.
struct Utf8<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Utf8<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Lines written by [`write_line`], kept.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl<S: Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            write_line(event, &mut self.0.lock().unwrap());
        }
    }

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Odd values: quotes, backslashes, control characters, non-ASCII.
    const ODD: [&str; 5] = [
        "plain",
        "quo\"te\\back",
        "ctl\u{1}\n\t\r\u{1f}\u{7f}",
        "é🦀\u{2028}",
        "",
    ];

    /// An access-like event with `odd` in its string fields.
    fn emit(odd: &str) {
        tracing::info!(
            target: switchboard_observe::access::TARGET,
            request_id = odd,
            front = "mcp",
            tenant = Some(odd),
            session = None::<&str>,
            name = odd,
            status = Some(200u16),
            outcome = "ok",
            code = Some(-32_601i64),
            latency_ms = 0.123_456_f64,
            "request"
        );
    }

    /// `emit(odd)` as this writer and as the generic JSON formatter wrote it.
    fn both(odd: &str) -> (String, String) {
        let ours = Capture::default();
        let theirs = Capture::default();
        let generic = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer({
                let t = theirs.clone();
                move || t.clone()
            });
        let subscriber = tracing_subscriber::registry()
            .with(ours.clone())
            .with(generic);
        tracing::subscriber::with_default(subscriber, || emit(odd));
        let text = |c: Capture| String::from_utf8(c.0.lock().unwrap().clone()).unwrap();
        (text(ours), text(theirs))
    }

    /// The line without its timestamp (the two were taken apart in time).
    fn untimed(line: &str) -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        let stamp = v["timestamp"].as_str().unwrap();
        assert_eq!(stamp.len(), "2026-11-26T00:41:09.974362Z".len(), "{stamp}");
        v["timestamp"] = serde_json::Value::Null;
        v
    }

    #[test]
    fn odd_strings_round_trip_as_the_generic_formatter_wrote_them() {
        for odd in ODD {
            let (ours, theirs) = both(odd);
            assert!(
                ours.ends_with("}\n") && ours.matches('\n').count() == 1,
                "{ours:?}"
            );
            let v = untimed(&ours);
            for field in ["request_id", "tenant", "name"] {
                assert_eq!(v[field], odd, "{field} of {ours}");
            }
            assert!(v.get("session").is_none(), "{ours}");
            assert_eq!(v["code"], -32_601);
            assert_eq!(v["latency_ms"], 0.123_456);
            // Byte for byte the generic line, but for the timestamp.
            let cut = |l: &str| l[l.find(r#""level""#).unwrap()..].to_owned();
            assert_eq!(cut(&ours), cut(&theirs));
            assert_eq!(v, untimed(&theirs));
        }
    }

    /// The generic timer's stamp of now, and ours of a moment before.
    fn stamps() -> (String, String) {
        let mut ours = Vec::new();
        timestamp(&mut ours, std::time::SystemTime::now());
        let mut theirs = String::new();
        let _ = SystemTime.format_time(&mut Writer::new(&mut theirs));
        (String::from_utf8(ours).unwrap(), theirs)
    }

    #[test]
    fn timestamps_read_as_the_generic_timers() {
        // Taken apart in time: the same to the second unless one crossed
        // it (then again; it cannot cross twice in a row).
        let (ours, theirs) = (0..3)
            .map(|_| stamps())
            .find(|(o, t)| o[..19] == t[..19])
            .expect("the same second in one of three tries");
        assert_eq!(ours.len(), theirs.len(), "{ours} {theirs}");
        assert!(ours.ends_with('Z') && ours.as_bytes()[19] == b'.', "{ours}");
        // Twice in one second: the cached date, fresh microseconds.
        let (again, _) = stamps();
        assert_eq!(again.len(), ours.len());
    }

    #[test]
    fn civil_dates_across_leap_years_and_centuries() {
        let at = |secs: u64| String::from_utf8(civil(secs).to_vec()).unwrap();
        assert_eq!(at(0), "1970-01-01T00:00:00");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(at(951_955_199), "2000-03-01T23:59:59");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00");
        assert_eq!(at(1_796_518_923), "2026-12-06T01:02:03");
        assert_eq!(at(253_402_300_799), "9999-12-31T23:59:59");
        // Every day of four centuries against the year, month and day
        // counted one day at a time.
        let (mut y, mut m, mut d) = (1970u64, 1u64, 1u64);
        for day in 0..146_097u64 {
            assert_eq!(at(day * 86_400)[..10], format!("{y:04}-{m:02}-{d:02}"));
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            d += 1;
            if d > len[(m - 1) as usize] {
                (d, m) = (1, m + 1);
                if m > 12 {
                    (m, y) = (1, y + 1);
                }
            }
        }
    }

    /// A record with `odd` in its string fields; `full` fills every
    /// optional one.
    fn record(odd: &str, full: bool) -> Line<'_> {
        Line {
            request_id: odd,
            front: "mcp",
            tenant: Some(odd),
            session: full.then_some("abcd1234"),
            method: full.then_some(odd),
            name: Some(odd),
            status: full.then_some(503),
            outcome: "ok",
            code: Some(-32_601),
            latency_ms: 0.123_456,
        }
    }

    #[test]
    fn a_record_is_written_as_its_event_is() {
        for odd in ODD {
            for full in [false, true] {
                let line = record(odd, full);
                let events = Capture::default();
                let subscriber = tracing_subscriber::registry().with(events.clone());
                tracing::subscriber::with_default(subscriber, || line.emit());
                let event = String::from_utf8(events.0.lock().unwrap().clone()).unwrap();
                let mut direct = Vec::new();
                write_record(&line, &mut direct);
                let direct = String::from_utf8(direct).unwrap();
                let cut = |l: &str| l[l.find(r#""level""#).unwrap()..].to_owned();
                assert_eq!(cut(&direct), cut(&event), "{odd:?} full {full}");
                assert_eq!(untimed(&direct), untimed(&event));
                assert_eq!(untimed(&direct)["name"], odd);
            }
        }
    }

    #[test]
    fn members_in_the_documented_order() {
        let (ours, _) = both("x");
        let keys: Vec<&str> = ours
            .split(['{', ','])
            .filter_map(|m| m.split_once("\":").map(|(k, _)| k.trim_matches('"')))
            .collect();
        assert_eq!(
            keys,
            [
                "timestamp",
                "level",
                "message",
                "request_id",
                "front",
                "tenant",
                "name",
                "status",
                "outcome",
                "code",
                "latency_ms",
                "target"
            ]
        );
    }
}
