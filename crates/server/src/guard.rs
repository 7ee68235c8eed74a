//! Checks on a request's headers before its body is read: DNS-rebinding
//! protection (`Host`, `Origin`), `Accept`, `Content-Type`, session id.

use http::{HeaderMap, header};

use crate::error::TransportError;

/// The header carrying the session id.
pub const SESSION_HEADER: &str = "mcp-session-id";
/// The header carrying the protocol version.
pub const VERSION_HEADER: &str = "mcp-protocol-version";
/// The header a client resumes an SSE stream with.
pub const LAST_EVENT_ID: &str = "last-event-id";

/// Which host names may appear in `Host` and `Origin`.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    extra: Vec<String>,
    any: bool,
}

impl HostPolicy {
    /// Loopback names plus `extra`; `"*"` in `extra` allows every host.
    pub fn new(extra: &[String]) -> Self {
        Self {
            any: extra.iter().any(|h| h == "*"),
            extra: extra.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }

    fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.any
            || matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]" | "::1")
            || self.extra.contains(&host)
    }

    /// 403 for a foreign `Origin` or `Host`.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), TransportError> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let text = origin.to_str().unwrap_or("");
            let host = origin_host(text)
                .ok_or_else(|| TransportError::ForbiddenOrigin(text.to_owned()))?;
            if !self.allows(host) {
                return Err(TransportError::ForbiddenOrigin(text.to_owned()));
            }
        }
        if let Some(host) = headers.get(header::HOST) {
            let text = host.to_str().unwrap_or("");
            if !self.allows(strip_port(text)) {
                return Err(TransportError::ForbiddenHost(text.to_owned()));
            }
        }
        Ok(())
    }
}

/// The host of an origin like `http://localhost:3000`.
fn origin_host(origin: &str) -> Option<&str> {
    let (_, rest) = origin.split_once("://")?;
    let authority = rest.split('/').next()?;
    Some(strip_port(authority)).filter(|h| !h.is_empty())
}

/// `localhost:80` → `localhost`, `[::1]:80` → `[::1]`.
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    authority.split(':').next().unwrap_or(authority)
}

/// What the client's `Accept` header allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepts {
    pub json: bool,
    pub sse: bool,
}

impl Accepts {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut out = Accepts {
            json: false,
            sse: false,
        };
        let mut seen = false;
        for value in headers.get_all(header::ACCEPT) {
            for item in value.to_str().unwrap_or("").split(',') {
                seen = true;
                let media = item
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                match media.as_str() {
                    "application/json" | "application/*" => out.json = true,
                    "text/event-stream" | "text/*" => out.sse = true,
                    "*/*" => {
                        out.json = true;
                        out.sse = true;
                    }
                    _ => {}
                }
            }
        }
        if !seen {
            // No Accept header at all means anything is acceptable (RFC 9110).
            return Accepts {
                json: true,
                sse: true,
            };
        }
        out
    }
}

/// 415 unless the body is declared as JSON.
pub fn check_json_content_type(headers: &HeaderMap) -> Result<(), TransportError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(TransportError::UnsupportedMediaType)
    }
}

/// The session id header, if present; 400 if it is not visible ASCII.
pub fn session_id(headers: &HeaderMap) -> Result<Option<&str>, TransportError> {
    match headers.get(SESSION_HEADER) {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().map_err(|_| TransportError::BadSessionHeader)?;
            if s.is_empty() || s.len() > 256 || !s.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                return Err(TransportError::BadSessionHeader);
            }
            Ok(Some(s))
        }
    }
}

/// The protocol version header, if present.
pub fn protocol_version(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(VERSION_HEADER)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn hosts_and_origins() {
        let p = HostPolicy::new(&[]);
        assert!(p.check(&headers(&[("host", "localhost:8080")])).is_ok());
        assert!(
            p.check(&headers(&[
                ("host", "127.0.0.1:1"),
                ("origin", "http://localhost:3000")
            ]))
            .is_ok()
        );
        assert!(p.check(&headers(&[("host", "[::1]:8080")])).is_ok());
        assert!(p.check(&headers(&[("host", "evil.example.com")])).is_err());
        assert!(
            p.check(&headers(&[
                ("host", "localhost"),
                ("origin", "http://evil.example.com")
            ]))
            .is_err()
        );
        assert!(
            p.check(&headers(&[("host", "localhost"), ("origin", "null")]))
                .is_err()
        );
        assert!(
            p.check(&headers(&[("host", "localhost.evil.com")]))
                .is_err()
        );
        let p = HostPolicy::new(&["mcp.example.com".into()]);
        assert!(
            p.check(&headers(&[("host", "MCP.example.com:443")]))
                .is_ok()
        );
        assert!(
            HostPolicy::new(&["*".into()])
                .check(&headers(&[("host", "x")]))
                .is_ok()
        );
    }

    #[test]
    fn accept_parsing() {
        let a = Accepts::from_headers(&headers(&[(
            "accept",
            "application/json, text/event-stream",
        )]));
        assert_eq!(
            a,
            Accepts {
                json: true,
                sse: true
            }
        );
        let a = Accepts::from_headers(&headers(&[("accept", "text/event-stream;q=0.9")]));
        assert_eq!(
            a,
            Accepts {
                json: false,
                sse: true
            }
        );
        let a = Accepts::from_headers(&headers(&[("accept", "text/html")]));
        assert_eq!(
            a,
            Accepts {
                json: false,
                sse: false
            }
        );
        let a = Accepts::from_headers(&headers(&[]));
        assert_eq!(
            a,
            Accepts {
                json: true,
                sse: true
            }
        );
    }

    #[test]
    fn session_header_rules() {
        assert_eq!(session_id(&headers(&[])).unwrap(), None);
        assert_eq!(
            session_id(&headers(&[("mcp-session-id", "abc")])).unwrap(),
            Some("abc")
        );
        assert!(session_id(&headers(&[("mcp-session-id", "a b")])).is_err());
    }
}
