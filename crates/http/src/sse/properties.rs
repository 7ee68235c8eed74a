//! Property tests of SSE framing: whatever the data, a reader splitting
//! lines as the format says (CRLF, LF or a lone CR) sees one event, ending
//! where it should, with its id, and data equal to what was written (line
//! ends read as LF; for JSON, where CR and LF are only whitespace, the same
//! value).

use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::proptest_cases::cases;

/// What a reader following the format makes of `bytes`: the events' ids
/// and data, and whether anything was left after the last one.
fn read(bytes: &[u8]) -> (Vec<(Option<String>, String)>, bool) {
    let text = std::str::from_utf8(bytes).expect("events are UTF-8");
    let (mut events, mut id, mut data, mut pending) = (Vec::new(), None, None::<String>, false);
    let mut rest = text;
    while let Some(end) = rest.find(['\r', '\n']) {
        let line = &rest[..end];
        let skip = if rest[end..].starts_with("\r\n") {
            2
        } else {
            1
        };
        rest = &rest[end + skip..];
        if line.is_empty() {
            if let Some(d) = data.take() {
                events.push((id.clone(), d));
            }
            pending = false;
            continue;
        }
        pending = true;
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.to_owned()),
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            _ => {}
        }
    }
    (events, pending || !rest.is_empty())
}

/// Line ends as a reader sees them: CRLF and a lone CR are LF.
fn normalised(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

/// JSON text laid out with any whitespace, CR alone included.
fn json_text() -> impl Strategy<Value = String> {
    let ws = prop::sample::select(vec!["", " ", "\n", "\r", "\r\n", "\t"]);
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<i32>().prop_map(|n| n.to_string()),
        "\\PC{0,6}".prop_map(|s| Value::from(s).to_string()),
        Just(r#""a\r\nb""#.to_owned()),
    ];
    leaf.prop_recursive(3, 12, 3, move |inner| {
        prop::collection::vec((ws.clone(), inner, ws.clone()), 0..4).prop_map(|items| {
            let items: Vec<String> = items
                .into_iter()
                .map(|(a, v, b)| format!("{a}{v}{b}"))
                .collect();
            format!("[{}]", items.join(","))
        })
    })
}

proptest! {
    #![proptest_config(cases(4000))]

    /// Any data: one event, with its id, and the data as written.
    #[test]
    fn any_data_reads_back(data in "(\\PC|[\r\n])*", stream in any::<u64>(), seq in any::<u64>(), with_id in any::<bool>()) {
        let id = with_id.then_some(EventId { stream, seq });
        let (events, leftover) = read(&event(id, &data));
        prop_assert!(!leftover, "bytes after the event");
        prop_assert_eq!(events, vec![(id.map(|i| i.to_string()), normalised(&data))]);
    }

    /// JSON data, whitespace of any kind included, reads back as the same
    /// JSON value.
    #[test]
    fn json_reads_back_as_the_same_value(json in json_text()) {
        let (events, _) = read(&event(None, &json));
        prop_assert_eq!(events.len(), 1);
        let got: Value = serde_json::from_str(&events[0].1).map_err(|e| TestCaseError::fail(format!("{e}: {:?}", events[0].1)))?;
        let want: Value = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got, want);
    }

    /// A priming event carries its id, a retry and empty data.
    #[test]
    fn priming_reads_back(stream in any::<u64>(), seq in any::<u64>(), retry in any::<u64>()) {
        let id = EventId { stream, seq };
        let (events, leftover) = read(&priming(id, retry));
        prop_assert!(!leftover);
        prop_assert_eq!(events, vec![(Some(id.to_string()), String::new())]);
    }
}
