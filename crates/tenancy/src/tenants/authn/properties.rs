//! Property tests of reading `Authorization`: any bytes are read or refused
//! without a panic; `Bearer <token>` gives the token exactly, whatever the
//! scheme's case and the spaces before the token; anything but a bearer
//! credential, an empty one or one over the size limit is refused as
//! malformed.

use http::HeaderValue;
use proptest::prelude::*;

use super::*;
use crate::proptest_cases::cases;

/// A token of the characters RFC 6750 allows (`b64token`).
fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~+/-]{1,64}=*"
}

/// "bearer" in any case.
fn scheme() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), 6).prop_map(|upper| {
        "bearer"
            .chars()
            .zip(upper)
            .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

proptest! {
    #![proptest_config(cases(4000))]

    #[test]
    fn bearer_tokens_read_back(scheme in scheme(), spaces in 1usize..4, token in token()) {
        let value = HeaderValue::from_str(&format!("{scheme}{}{token}", " ".repeat(spaces)))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(bearer(&value), Ok(token.as_str()));
    }

    #[test]
    fn other_credentials_are_malformed(scheme in "[A-Za-z]{0,8}", rest in "[ -~]{0,16}") {
        prop_assume!(!scheme.eq_ignore_ascii_case("bearer"));
        let value = HeaderValue::from_str(&format!("{scheme} {rest}"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(matches!(bearer(&value), Err(AuthFailure::Malformed(_))));
    }

    #[test]
    fn any_bytes_never_panic(raw in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(value) = HeaderValue::from_bytes(&raw)
            && let Ok(token) = bearer(&value)
        {
            prop_assert!(!token.is_empty() && !token.starts_with(' ') && !token.ends_with(' '));
        }
    }
}

#[test]
fn credentials_over_the_limit_are_malformed() {
    let value = HeaderValue::from_str(&format!("Bearer {}", "a".repeat(MAX_CREDENTIAL))).unwrap();
    assert!(matches!(bearer(&value), Err(AuthFailure::Malformed(_))));
}
