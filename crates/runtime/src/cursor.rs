//! Opaque pagination cursors for the list methods.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const PREFIX: &str = "sb1:";

/// Encode an offset into a list as an opaque cursor.
pub(crate) fn encode(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{offset}"))
}

/// Decode a cursor; `None` if it is not one of ours, spelled as we spell
/// it (no sign, no leading zeros: one cursor per offset).
pub(crate) fn decode(cursor: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let offset = text.strip_prefix(PREFIX)?.parse().ok()?;
    (encode(offset) == cursor).then_some(offset)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_garbage() {
        assert_eq!(super::decode(&super::encode(42)), Some(42));
        assert_eq!(super::decode("not-a-cursor"), None);
        assert_eq!(super::decode(""), None);
    }

    mod properties {
        //! Property tests: every offset reads back from its cursor; any
        //! text is a cursor or not without a panic; and a cursor has one
        //! spelling. Case counts are for CI; `PROPTEST_CASES=<n>` runs `n`
        //! (docs/testing.md).

        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use proptest::prelude::*;
        use proptest::test_runner::Config as ProptestConfig;

        use super::super::{decode, encode};

        fn cases(n: u32) -> ProptestConfig {
            let from_env = std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|v| v.parse().ok());
            ProptestConfig {
                cases: from_env.unwrap_or(n),
                ..ProptestConfig::default()
            }
        }

        proptest! {
            #![proptest_config(cases(4000))]

            #[test]
            fn offsets_round_trip(n in any::<usize>()) {
                prop_assert_eq!(decode(&encode(n)), Some(n));
            }

            /// Any text, and any text under our prefix: an offset only for
            /// the one spelling `encode` gives it.
            #[test]
            fn one_spelling_per_cursor(text in "\\PC{0,24}", inner in "[-+0-9a-z: ]{0,12}") {
                for cursor in [text, URL_SAFE_NO_PAD.encode(format!("sb1:{inner}"))] {
                    if let Some(n) = decode(&cursor) {
                        prop_assert_eq!(encode(n), cursor);
                    }
                }
            }
        }
    }
}
