use super::*;

fn parse_chunks(chunks: &[&[u8]]) -> (Vec<SseEvent>, SseParser) {
    let mut parser = SseParser::new(1024);
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk, &mut out).unwrap();
    }
    (out, parser)
}

fn parse(text: &str) -> Vec<SseEvent> {
    parse_chunks(&[text.as_bytes()]).0
}

fn ev(id: Option<&str>, data: &str) -> SseEvent {
    SseEvent {
        id: id.map(str::to_owned),
        event: "message".into(),
        data: data.into(),
    }
}

#[test]
fn fields_and_multi_line_data() {
    let events = parse("id: 1\nevent: message\ndata: {\"a\":\ndata:  1}\n\ndata:x\n\n");
    assert_eq!(
        events,
        vec![ev(Some("1"), "{\"a\":\n 1}"), ev(Some("1"), "x")],
        "one leading space is stripped, ids persist"
    );
}

#[test]
fn comments_unknown_fields_and_lines_without_colon() {
    let events = parse(": keep-alive\n\nfoo: bar\ndata\n\n:\ndata: y\n\n");
    assert_eq!(events, vec![ev(None, ""), ev(None, "y")]);
}

#[test]
fn event_types_reset_after_each_event() {
    let events = parse("event: ping\ndata: a\n\ndata: b\n\nevent: lost\n\ndata: c\n\n");
    assert_eq!(events[0].event, "ping");
    assert_eq!(events[1].event, "message");
    assert_eq!(events[2].event, "message", "a type with no data is dropped");
}

#[test]
fn priming_event_sets_the_id_and_retry() {
    // What a 2025-11-25 server sends first: an id, a retry and empty data.
    let (events, parser) = parse_chunks(&[b"id: s1-0\nretry: 1500\ndata: \n\n"]);
    assert_eq!(events, vec![ev(Some("s1-0"), "")]);
    assert_eq!(parser.last_event_id(), Some("s1-0"));
    assert_eq!(parser.retry(), Some(1500));

    let (events, parser) = parse_chunks(&[b"id: 7\n\n", b"retry: soon\n\n"]);
    assert!(events.is_empty(), "no data, no event");
    assert_eq!(parser.last_event_id(), Some("7"));
    assert_eq!(parser.retry(), None, "retry takes digits only");
}

#[test]
fn ids_with_nul_are_ignored_and_empty_ids_reset() {
    let (_, parser) = parse_chunks(&[b"id: a\n\nid: b\0c\n\n"]);
    assert_eq!(parser.last_event_id(), Some("a"));
    let events = parse("id: a\ndata: 1\n\nid\ndata: 2\n\n");
    assert_eq!(events[1].id.as_deref(), Some(""));
}

#[test]
fn every_line_ending_and_every_split() {
    let text = "\u{feff}id: 9\r\ndata: one\rdata: two\n\r\ndata: three\r\r";
    let whole = parse(text);
    assert_eq!(
        whole,
        vec![ev(Some("9"), "one\ntwo"), ev(Some("9"), "three")]
    );
    let bytes = text.as_bytes();
    for cut in 0..=bytes.len() {
        let (events, _) = parse_chunks(&[&bytes[..cut], &bytes[cut..]]);
        assert_eq!(events, whole, "split at {cut}");
    }
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(parse_chunks(&singles).0, whole, "byte by byte");
}

#[test]
fn a_bom_only_at_the_start() {
    assert_eq!(parse("\u{feff}data: a\n\n"), vec![ev(None, "a")]);
    let events = parse("data: a\n\n\u{feff}data: b\n\n");
    assert_eq!(events.len(), 1, "a BOM later is part of a field name");
    let (events, _) = parse_chunks(&[b"\xEF\xBB", b"\xBFdata: a\n\n"]);
    assert_eq!(events, vec![ev(None, "a")], "a BOM split across chunks");
    let (events, _) = parse_chunks(&[b"\xEF", b"data: a\n\n"]);
    assert_eq!(events, vec![], "half a BOM is part of the first field name");
}

#[test]
fn an_unfinished_event_is_not_dispatched() {
    let (events, _) = parse_chunks(&[b"data: a\n"]);
    assert!(events.is_empty());
    let (events, _) = parse_chunks(&[b"data: a\n", b"\n"]);
    assert_eq!(events, vec![ev(None, "a")]);
}

#[test]
fn lines_and_events_are_capped() {
    let mut parser = SseParser::new(16);
    let mut out = Vec::new();
    assert_eq!(
        parser.feed(&[b'x'; 17], &mut out),
        Err(SseError::TooLarge(16)),
        "a line without an end"
    );
    let mut parser = SseParser::new(16);
    parser.feed(b"data: 0123456789\n", &mut out).unwrap();
    assert_eq!(
        parser.feed(b"data: 0123456789\n", &mut out),
        Err(SseError::TooLarge(16)),
        "data lines adding up"
    );
    let mut parser = SseParser::new(16);
    for _ in 0..100 {
        parser.feed(b"data: 0123456789\n\n", &mut out).unwrap();
    }
    assert_eq!(out.len(), 100, "the cap is per event, not per stream");
}

#[test]
fn resuming_keeps_the_known_id() {
    let mut parser = SseParser::resuming(64, Some("s-3".into()), Some(20));
    let mut out = Vec::new();
    parser.feed(b"data: x\n\n", &mut out).unwrap();
    assert_eq!(out[0].id.as_deref(), Some("s-3"));
    assert_eq!(parser.retry(), Some(20));
}
