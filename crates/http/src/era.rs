//! Which protocol era a request to `/mcp` speaks: decided per request, from
//! its headers and method, before anything else touches it.

use http::HeaderMap;
use switchboard_proto::ProtocolVersion;
use switchboard_proto::version::MODERN;

use crate::guard;

/// The protocol era of one HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2025-03-26 … 2025-11-25 (and 2024-11-05): sessions, `initialize`.
    Session,
    /// 2026-07-28 and later: stateless, `_meta` on every request.
    Modern,
}

/// The era of a request, from its `MCP-Protocol-Version` header:
/// - a session-era version, or no header at all (taken as 2025-03-26),
///   takes the session path — `initialize` and `Mcp-Session-Id` live there;
/// - 2026-07-28 takes the stateless path, whatever the method (a stateless
///   `initialize` is answered 404) and ignoring any `Mcp-Session-Id`;
/// - an unknown version takes the session path when the request names a
///   session (which refuses the version), else the stateless path, which
///   refuses it with the list of supported versions.
pub fn decide(headers: &HeaderMap) -> Era {
    match guard::protocol_version(headers) {
        None => Era::Session,
        Some(v) if ProtocolVersion::parse(v).is_some() => Era::Session,
        Some(MODERN) => Era::Modern,
        Some(_) if headers.contains_key(&guard::SESSION_NAME) => Era::Session,
        Some(_) => Era::Modern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn dispatch_rules() {
        let modern = h(&[("mcp-protocol-version", "2026-07-28")]);
        assert_eq!(decide(&modern), Era::Modern);
        let with_session = h(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-session-id", "x"),
        ]);
        assert_eq!(
            decide(&with_session),
            Era::Modern,
            "a stateless request ignores Mcp-Session-Id"
        );
        assert_eq!(decide(&h(&[])), Era::Session, "no header: 2025-03-26");
        assert_eq!(decide(&h(&[("mcp-session-id", "x")])), Era::Session);
        for v in ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] {
            let mut m = HeaderMap::new();
            m.insert("mcp-protocol-version", HeaderValue::from_str(v).unwrap());
            assert_eq!(decide(&m), Era::Session, "{v}");
        }
        let unknown = h(&[("mcp-protocol-version", "1900-01-01")]);
        assert_eq!(
            decide(&unknown),
            Era::Modern,
            "refused with the supported list"
        );
        let unknown_in_session = h(&[
            ("mcp-protocol-version", "1900-01-01"),
            ("mcp-session-id", "x"),
        ]);
        assert_eq!(
            decide(&unknown_in_session),
            Era::Session,
            "refused by the session path"
        );
    }
}
