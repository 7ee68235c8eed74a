//! The W3C Trace Context `traceparent` header, version `00`:
//! `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lowercase,
//! neither id all zeros. Anything else is not a trace parent (ignored by
//! callers, never an error to the client).

use std::fmt;

/// A parsed `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace id ([`TraceParent::parse`] refuses all zeros).
    pub trace_id: [u8; 16],
    /// The span of the sender, which is the parent of the receiver's spans
    /// (the header's `parent-id`; [`TraceParent::parse`] refuses all zeros).
    pub span_id: [u8; 8],
    /// The trace flags; bit 0 is "sampled" ([`TraceParent::sampled`]).
    pub flags: u8,
}

impl TraceParent {
    /// Parse a header value strictly; `None` if it is not a valid version-00
    /// `traceparent`. A future version's longer header is accepted when its
    /// first four fields are valid, as the specification asks.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return None;
        }
        let version = hex_byte(&b[0..2])?;
        if version == 0xff || (version == 0 && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
            return None;
        }
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        for (i, byte) in trace_id.iter_mut().enumerate() {
            *byte = hex_byte(&b[3 + 2 * i..5 + 2 * i])?;
        }
        for (i, byte) in span_id.iter_mut().enumerate() {
            *byte = hex_byte(&b[36 + 2 * i..38 + 2 * i])?;
        }
        let flags = hex_byte(&b[53..55])?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    /// Whether the caller sampled this trace (flag bit 0).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            hex(&self.trace_id),
            hex(&self.span_id),
            self.flags
        )
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    Some(digit(pair[0])? << 4 | digit(pair[1])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn round_trip() {
        let tp = TraceParent::parse(GOOD).unwrap();
        assert!(tp.sampled());
        assert_eq!(tp.span_id, [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
        assert_eq!(tp.to_string(), GOOD);
    }

    #[test]
    fn strict() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
        let future = format!("01{}-extra", &GOOD[2..]);
        assert!(TraceParent::parse(&future).is_some());
    }

    mod properties {
        //! Property tests: no panic on any header value; every trace
        //! parent reads back from its spelling; and a version-00 value is
        //! accepted only in its one canonical spelling (lowercase hex,
        //! exact length), so one trace never has two accepted spellings.
        //! Case counts are for CI; `PROPTEST_CASES=<n>` runs `n`
        //! (docs/testing.md).

        use proptest::prelude::*;
        use proptest::test_runner::Config as ProptestConfig;

        use super::*;

        fn cases(n: u32) -> ProptestConfig {
            let from_env = std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|v| v.parse().ok());
            ProptestConfig {
                cases: from_env.unwrap_or(n),
                ..ProptestConfig::default()
            }
        }

        fn trace_parent() -> impl Strategy<Value = TraceParent> {
            (any::<[u8; 16]>(), any::<[u8; 8]>(), any::<u8>())
                .prop_filter("ids are never all zeros", |(t, s, _)| {
                    *t != [0; 16] && *s != [0; 8]
                })
                .prop_map(|(trace_id, span_id, flags)| TraceParent {
                    trace_id,
                    span_id,
                    flags,
                })
        }

        proptest! {
            #![proptest_config(cases(4000))]

            #[test]
            fn any_text_never_panics(s in "\\PC{0,80}", ascii in "[0-9a-fA-F-]{50,60}") {
                let _ = TraceParent::parse(&s);
                let _ = TraceParent::parse(&ascii);
            }

            #[test]
            fn spelling_round_trips(tp in trace_parent()) {
                prop_assert_eq!(TraceParent::parse(&tp.to_string()), Some(tp));
            }

            /// One character of a valid value changed: refused, or read as
            /// the value that change spells canonically (or a later version).
            #[test]
            fn only_the_canonical_spelling_is_accepted(
                tp in trace_parent(),
                at in 0usize..55,
                c in prop_oneof![prop::char::range('0', 'z'), Just('-'), any::<char>()],
            ) {
                let mut chars: Vec<char> = tp.to_string().chars().collect();
                chars[at] = c;
                let s: String = chars.into_iter().collect();
                // The version may change (a later one is read alike); the
                // fields after it must be spelled exactly as ours.
                if let Some(got) = TraceParent::parse(&s) {
                    prop_assert_eq!(&got.to_string()[2..], s.get(2..).unwrap_or_default());
                }
            }

            /// A later version's value is read by its first four fields.
            #[test]
            fn later_versions_keep_their_ids(tp in trace_parent(), version in 1u8..0xff, tail in prop::option::of("-[a-z0-9]{0,8}")) {
                let s = format!("{version:02x}{}{}", &tp.to_string()[2..], tail.unwrap_or_default());
                prop_assert_eq!(TraceParent::parse(&s), Some(tp));
            }
        }
    }
}
