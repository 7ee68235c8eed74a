//! Property tests of the SSE parser: no panic and no unbounded buffer on
//! any bytes, the same events however the body is cut into chunks, and the
//! events of any stream written by the format's rules (every line ending, a
//! BOM, comments, fields with and without a space) read back exactly.
//!
//! Case counts are for CI; `PROPTEST_CASES=<n>` runs `n` of each instead
//! (docs/testing.md).

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

use super::*;

/// `n` cases, or `PROPTEST_CASES` when it is set.
fn cases(n: u32) -> ProptestConfig {
    let from_env = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: from_env.unwrap_or(n),
        ..ProptestConfig::default()
    }
}

/// Feed `body` cut at `cuts` (positions, in any order); the events, the
/// parser, or the first error.
fn feed_cut(
    max: usize,
    body: &[u8],
    cuts: &[usize],
) -> (Result<Vec<SseEvent>, SseError>, SseParser) {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    cuts.sort_unstable();
    let mut parser = SseParser::new(max);
    let mut out = Vec::new();
    let mut from = 0;
    for to in cuts.into_iter().chain([body.len()]) {
        if let Err(e) = parser.feed(&body[from..to], &mut out) {
            return (Err(e), parser);
        }
        assert!(parser.line.len() <= max, "a line held beyond the cap");
        assert!(parser.data.len() <= max, "data held beyond the cap");
        from = to;
    }
    (Ok(out), parser)
}

/// Text without line ends (what a field's value can be).
fn line_text() -> impl Strategy<Value = String> {
    "[^\r\n]{0,12}"
}

/// One event as a stream writes it.
#[derive(Debug, Clone)]
struct Written {
    id: Option<String>,
    event: Option<String>,
    data: Vec<String>,
    retry: Option<u64>,
}

fn written() -> impl Strategy<Value = Written> {
    (
        prop::option::of("[^\r\n\0]{0,12}"),
        prop::option::of("[^\r\n]{1,12}"),
        prop::collection::vec(line_text(), 1..4),
        prop::option::of(any::<u64>()),
    )
        .prop_map(|(id, event, data, retry)| Written {
            id,
            event,
            data,
            retry,
        })
}

/// How a stream spells its lines: the line end, whether a space follows
/// the colon, and whether a comment comes first.
fn style() -> impl Strategy<Value = (&'static str, bool, bool)> {
    (
        prop::sample::select(&["\n", "\r\n", "\r"][..]),
        any::<bool>(),
        any::<bool>(),
    )
}

/// A field line. Without the optional space, a value starting with a space
/// would lose it, so the space is always written then.
fn field(out: &mut String, name: &str, value: &str, space: bool, end: &str) {
    out.push_str(name);
    out.push(':');
    if space || value.starts_with(' ') {
        out.push(' ');
    }
    out.push_str(value);
    out.push_str(end);
}

/// Write `events` as a stream, each in its own style; the events a reader
/// must see, and the last id and retry it must know.
fn write(
    events: &[(Written, (&str, bool, bool))],
    bom: bool,
) -> (Vec<u8>, Vec<SseEvent>, Option<String>, Option<u64>) {
    let mut text = String::from(if bom { "\u{feff}" } else { "" });
    let (mut expected, mut id, mut retry) = (Vec::new(), None, None);
    for (w, (end, space, comment)) in events {
        if *comment {
            text.push_str(": keep-alive");
            text.push_str(end);
        }
        if let Some(v) = &w.id {
            field(&mut text, "id", v, *space, end);
            id = Some(v.clone());
        }
        if let Some(v) = &w.event {
            field(&mut text, "event", v, *space, end);
        }
        if let Some(r) = w.retry {
            field(&mut text, "retry", &r.to_string(), *space, end);
            retry = Some(r);
        }
        for line in &w.data {
            field(&mut text, "data", line, *space, end);
        }
        text.push_str(end);
        expected.push(SseEvent {
            id: id.clone(),
            event: w.event.clone().unwrap_or_else(|| "message".into()),
            data: w.data.join("\n"),
        });
    }
    (text.into_bytes(), expected, id, retry)
}

proptest! {
    #![proptest_config(cases(4000))]

    /// Any bytes, cut anywhere: events or TooLarge, never a panic, and
    /// nothing buffered beyond the cap.
    #[test]
    fn any_bytes_never_panic_nor_overflow(
        body in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        max in 1usize..64,
    ) {
        let _ = feed_cut(max, &body, &cuts);
    }

    /// Bytes made of the format's own pieces reach every branch.
    #[test]
    fn stream_pieces_never_panic(
        pieces in prop::collection::vec(prop::sample::select(vec![
            "data", "id", "event", "retry", ":", " ", "\r", "\n", "\r\n", "x", "1", "\0",
            "\u{feff}", "\u{fe}", "\u{e9}",
        ]), 0..48),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let _ = feed_cut(32, pieces.concat().as_bytes(), &cuts);
    }

    /// How a body is cut into chunks changes nothing: the same events (or
    /// the same error), the same last id and retry; empty chunks included.
    #[test]
    fn chunking_changes_nothing(
        body in prop::collection::vec(prop::sample::select(b"data: x\r\nid:7retry9\0\xef\xbb\xbf".to_vec()), 0..96),
        cuts in prop::collection::vec(any::<usize>(), 1..8),
        empty_chunks in any::<bool>(),
    ) {
        let cuts = if empty_chunks { cuts.repeat(2) } else { cuts };
        let (whole, p1) = feed_cut(1 << 16, &body, &[]);
        let (cut, p2) = feed_cut(1 << 16, &body, &cuts);
        prop_assert_eq!(whole, cut);
        prop_assert_eq!(p1.last_event_id(), p2.last_event_id());
        prop_assert_eq!(p1.retry(), p2.retry());
    }
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Events written by the format's rules, in any mix of line ends, with
    /// or without a BOM, comments and the space after the colon, read back
    /// exactly, cut into chunks anywhere.
    #[test]
    fn written_events_read_back(
        events in prop::collection::vec((written(), style()), 0..5),
        bom in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let (body, expected, id, retry) = write(&events, bom);
        let (got, parser) = feed_cut(1 << 16, &body, &cuts);
        prop_assert_eq!(got, Ok(expected), "{:?}", String::from_utf8_lossy(&body));
        prop_assert_eq!(parser.last_event_id(), id.as_deref());
        prop_assert_eq!(parser.retry(), retry);
    }

    /// A line longer than the cap is refused however it arrives.
    #[test]
    fn long_lines_are_refused(
        max in 1usize..64, over in 1usize..64,
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let body = format!("data: {}", "x".repeat(max + over));
        let (got, _) = feed_cut(max, body.as_bytes(), &cuts);
        prop_assert_eq!(got, Err(SseError::TooLarge(max)));
    }
}
