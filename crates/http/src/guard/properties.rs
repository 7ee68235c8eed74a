//! Property tests of the session and version headers: any bytes are read or
//! refused without a panic; a session id is accepted exactly when it is 1 to
//! 256 visible ASCII characters, and then as sent; a version is read only
//! from its exact spelling.

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

use super::*;
use crate::proptest_cases::cases;

fn with(name: &'static str, raw: &[u8]) -> Option<HeaderMap> {
    let value = HeaderValue::from_bytes(raw).ok()?;
    let mut headers = HeaderMap::new();
    headers.insert(name, value);
    Some(headers)
}

proptest! {
    #![proptest_config(cases(4000))]

    #[test]
    fn session_ids_are_visible_ascii_as_sent(
        raw in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..32),
            "[!-~]{1,300}".prop_map(String::into_bytes),
        ],
    ) {
        let Some(headers) = with(SESSION_HEADER, &raw) else { return Ok(()) };
        let valid = (1..=256).contains(&raw.len()) && raw.iter().all(|b| (0x21..=0x7e).contains(b));
        match session_id(&headers) {
            Ok(Some(id)) => prop_assert!(valid && id.as_bytes() == raw.as_slice()),
            Ok(None) => prop_assert!(false, "a present header read as absent"),
            Err(e) => prop_assert!(!valid && matches!(e, TransportError::BadSessionHeader)),
        }
        let _ = protocol_version(&headers);
    }

    /// A version header is never read as a version it does not spell.
    #[test]
    fn version_header_is_read_as_spelled(
        raw in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..32),
            prop::sample::select(switchboard_proto::version::ALL_SUPPORTED.to_vec()).prop_map(|v| v.as_bytes().to_vec()),
        ],
    ) {
        if let Some(headers) = with(VERSION_HEADER, &raw) {
            let got = protocol_version(&headers);
            prop_assert!(got.is_some(), "a present header read as absent");
            if let Some(v) = got.and_then(switchboard_proto::ProtocolVersion::parse) {
                prop_assert_eq!(v.as_str().as_bytes(), raw.as_slice());
            }
        }
    }
}
