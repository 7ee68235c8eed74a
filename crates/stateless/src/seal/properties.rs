//! Property tests of sealed `requestState`: any state seals and opens back
//! to itself; any text, and any change to a sealed state, is refused
//! without a panic (one accepted spelling per state); another key or an
//! expired state is refused with its reason.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;
use crate::proptest_cases::cases;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map("\\PC{0,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn state() -> impl Strategy<Value = RequestState> {
    (
        "\\PC{0,12}",
        "\\PC{0,12}",
        "\\PC{0,12}",
        prop::collection::btree_map("\\PC{0,8}", json_value(), 0..4),
        any::<u64>(),
    )
        .prop_map(
            |(method, target, principal, responses, expires_ms)| RequestState {
                method,
                target,
                principal,
                responses: responses.into_iter().collect::<Map<_, _>>(),
                expires_ms,
            },
        )
}

fn sealer() -> Sealer {
    Sealer::new(b"0123456789abcdef0123456789abcdef")
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn states_round_trip(s in state()) {
        let token = sealer().seal(&s);
        prop_assert_eq!(sealer().open(&token, 0), Ok(s.clone()));
        if s.expires_ms < u64::MAX {
            prop_assert_eq!(sealer().open(&token, s.expires_ms + 1), Err(SealError::Expired));
        }
        let other = Sealer::new(b"another key, also long enough....");
        prop_assert_eq!(other.open(&token, 0), Err(SealError::BadTag));
    }

    /// One character of a sealed state changed, added or removed: refused.
    #[test]
    fn any_change_is_refused(s in state(), at in any::<prop::sample::Index>(), c in any::<char>(), how in 0..3u8) {
        let token = sealer().seal(&s);
        let mut chars: Vec<char> = token.chars().collect();
        let i = at.index(chars.len());
        match how {
            0 => chars[i] = c,
            1 => chars.insert(i, c),
            _ => { chars.remove(i); }
        }
        let changed: String = chars.into_iter().collect();
        prop_assume!(changed != token);
        prop_assert!(sealer().open(&changed, 0).is_err(), "{} opened", changed);
    }

    /// Any text: refused, never a panic.
    #[test]
    fn any_text_is_refused(text in "\\PC{0,80}", parts in prop::collection::vec("[A-Za-z0-9_-]{0,44}", 0..5)) {
        prop_assert!(sealer().open(&text, 0).is_err());
        let dotted = format!("sb1.{}", parts.join("."));
        prop_assert!(sealer().open(&dotted, 0).is_err());
    }
}
