//! Which protocol era a request to `/mcp` speaks: decided per request, from
//! its headers and method, before anything else touches it.

use http::HeaderMap;
use switchboard_proto::ProtocolVersion;

use crate::guard::{self, SESSION_HEADER};

/// The protocol era of one HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    /// 2025-03-26 … 2025-11-25 (and 2024-11-05): sessions, `initialize`.
    Session,
    /// 2026-07-28 and later: stateless, `_meta` on every request.
    Modern,
}

/// The era of a request. `initialize`, an `Mcp-Session-Id` or a session-era
/// version header take the session path, and so does a request with no
/// version header at all (taken as 2025-03-26). Any other version header —
/// 2026-07-28, or one we do not know, which the modern path refuses with
/// the list of supported versions — takes the stateless path.
pub(crate) fn decide(headers: &HeaderMap, method: Option<&str>) -> Era {
    if method == Some(switchboard_proto::methods::INITIALIZE)
        || headers.contains_key(SESSION_HEADER)
    {
        return Era::Session;
    }
    match guard::protocol_version(headers) {
        None => Era::Session,
        Some(v) if ProtocolVersion::parse(v).is_some() => Era::Session,
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
        assert_eq!(decide(&modern, Some("tools/call")), Era::Modern);
        assert_eq!(decide(&modern, None), Era::Modern);
        assert_eq!(
            decide(&modern, Some("initialize")),
            Era::Session,
            "initialize is always a session"
        );
        let with_session = h(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-session-id", "x"),
        ]);
        assert_eq!(decide(&with_session, Some("tools/list")), Era::Session);
        assert_eq!(
            decide(&h(&[]), Some("tools/list")),
            Era::Session,
            "no header: 2025-03-26"
        );
        for v in ["2025-11-25", "2025-06-18", "2025-03-26"] {
            let mut m = HeaderMap::new();
            m.insert("mcp-protocol-version", HeaderValue::from_str(v).unwrap());
            assert_eq!(decide(&m, Some("tools/list")), Era::Session, "{v}");
        }
        let unknown = h(&[("mcp-protocol-version", "1900-01-01")]);
        assert_eq!(
            decide(&unknown, Some("tools/list")),
            Era::Modern,
            "refused with the supported list"
        );
    }
}
