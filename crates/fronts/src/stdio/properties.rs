//! Property tests of the stdio front's framing: whatever lines a client
//! writes — requests, text that is no message, bytes that are not UTF-8,
//! lines over the limit, blank lines — each request is answered, each bad
//! line gets one error with a null id, and the front goes on to the end of
//! input.

use std::sync::{Arc, LazyLock};

use proptest::prelude::*;
use serde_json::Value;
use switchboard_runtime::Catalog;
use tokio::io::AsyncReadExt;

use crate::proptest_cases::cases;

/// The longest line the front is given here.
const MAX_LINE: usize = 64;

static CATALOG: LazyLock<Arc<Catalog>> =
    LazyLock::new(|| Arc::new(Catalog::builder().build().expect("an empty catalog")));

/// One line a client writes.
#[derive(Debug, Clone)]
enum Line {
    /// `ping` with this id: answered with an empty result.
    Ping(u32),
    /// Bytes that are no message (no `{` or `[`): one error each, unless
    /// blank.
    Junk(Vec<u8>),
    /// Longer than the limit: one error.
    TooLong(usize),
}

fn line() -> impl Strategy<Value = Line> {
    let junk_byte = prop_oneof![8 => 0x20u8..0x7f, 1 => 0x80u8..=0xff, 1 => Just(b'\r')]
        .prop_filter("no message can start", |b| *b != b'{' && *b != b'[');
    prop_oneof![
        3 => any::<u32>().prop_map(Line::Ping),
        2 => prop::collection::vec(junk_byte, 0..32).prop_map(Line::Junk),
        1 => (MAX_LINE + 1..MAX_LINE * 3).prop_map(Line::TooLong),
    ]
}

/// What the front answers to `input`: its output lines, read as JSON.
fn answers(input: Vec<u8>) -> Vec<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (output, mut client) = tokio::io::duplex(1 << 20);
        let served = super::serve_stdio(CATALOG.clone(), &input[..], output, MAX_LINE);
        let mut out = Vec::new();
        let (result, _) = tokio::join!(served, client.read_to_end(&mut out));
        result.expect("the front ends cleanly");
        String::from_utf8_lossy(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect()
    })
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn every_line_is_answered_and_the_front_goes_on(lines in prop::collection::vec(line(), 0..8)) {
        let mut input = Vec::new();
        for l in &lines {
            match l {
                Line::Ping(id) => input.extend(format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#).bytes()),
                Line::Junk(bytes) => input.extend(bytes),
                Line::TooLong(n) => input.extend(std::iter::repeat_n(b'x', *n)),
            }
            input.push(b'\n');
        }
        let got = answers(input);
        let mut pings: Vec<u64> = lines.iter().filter_map(|l| match l {
            Line::Ping(id) => Some(u64::from(*id)),
            _ => None,
        }).collect();
        let bad = lines.iter().filter(|l| match l {
            Line::Junk(b) => !String::from_utf8_lossy(b).trim().is_empty(),
            Line::TooLong(_) => true,
            Line::Ping(_) => false,
        }).count();
        let mut answered: Vec<u64> = got.iter().filter(|v| v["result"] == serde_json::json!({})).filter_map(|v| v["id"].as_u64()).collect();
        pings.sort_unstable();
        answered.sort_unstable();
        prop_assert_eq!(answered, pings, "{:?}", got);
        let errors = got.iter().filter(|v| v["id"].is_null() && v["error"]["code"].is_i64()).count();
        prop_assert_eq!(errors, bad, "{:?}", got);
        prop_assert_eq!(got.len(), lines.iter().filter(|l| matches!(l, Line::Ping(_))).count() + bad);
    }
}
