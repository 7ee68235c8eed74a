//! Checks on a request's headers before its body is read: DNS-rebinding
//! protection (`Host`, `Origin`), `Content-Type`, session id, version;
//! `Accept` is read by [`Accepts`]. [`check_hosts`] is the `Host`/`Origin`
//! check as a middleware, for the fronts to layer over their routes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::uri::Authority;
use http::{HeaderMap, HeaderName, HeaderValue, header};

pub use crate::accepts::Accepts;
use crate::error::TransportError;

/// The header carrying the session id.
pub const SESSION_HEADER: &str = "mcp-session-id";
/// The header carrying the protocol version.
pub const VERSION_HEADER: &str = "mcp-protocol-version";
/// [`SESSION_HEADER`] and [`VERSION_HEADER`] as header names, made at
/// compile time (a `&str` name is parsed again at every lookup).
pub(crate) const SESSION_NAME: HeaderName = HeaderName::from_static(SESSION_HEADER);
const VERSION_NAME: HeaderName = HeaderName::from_static(VERSION_HEADER);
/// The header a client resumes an SSE stream with.
pub const LAST_EVENT_ID: &str = "last-event-id";

/// Which host names may appear in `Host` and `Origin`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    extra: Arc<[String]>,
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
            || matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
            || self.extra.contains(&host)
    }

    /// 400 for a repeated `Host` or `Origin` (which one counts would be a
    /// guess), 403 for a foreign one. A `Host` must be a host and an
    /// optional numeric port (no user info); an `Origin`, a scheme and such
    /// an authority.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), TransportError> {
        let origin = single(headers, &header::ORIGIN, "Origin")?;
        let host = single(headers, &header::HOST, "Host")?;
        if let Some(origin) = origin {
            let text = origin.to_str().unwrap_or("");
            if !origin_authority(text).is_some_and(|a| self.allows_authority(a)) {
                return Err(TransportError::ForbiddenOrigin(text.to_owned()));
            }
        }
        if let Some(host) = host {
            let text = host.to_str().unwrap_or("");
            if !self.allows_authority(text) {
                return Err(TransportError::ForbiddenHost(text.to_owned()));
            }
        }
        Ok(())
    }

    /// As [`HostPolicy::check`], for `Host` alone: for endpoints that
    /// answer any origin (the authorization server's, which browser-based
    /// clients call across origins and which carry no ambient credential).
    pub fn check_host(&self, headers: &HeaderMap) -> Result<(), TransportError> {
        if let Some(host) = single(headers, &header::HOST, "Host")? {
            let text = host.to_str().unwrap_or("");
            if !self.allows_authority(text) {
                return Err(TransportError::ForbiddenHost(text.to_owned()));
            }
        }
        Ok(())
    }

    /// Whether `authority` (`host[:port]`) names an allowed host.
    fn allows_authority(&self, authority: &str) -> bool {
        // `Authority` also takes user info (`a@b`), which a Host never has
        // (RFC 9110 §7.2), and does not check the port.
        match authority.parse::<Authority>() {
            Ok(a) if !authority.contains('@') => {
                let port = &authority[a.host().len()..];
                let port_ok = port.is_empty()
                    || port
                        .strip_prefix(':')
                        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
                port_ok && self.allows(a.host())
            }
            _ => false,
        }
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`): a request whose
/// `Host` or `Origin` `policy` refuses ([`HostPolicy::check`]) gets that
/// refusal's response (its status and JSON-RPC error body) and goes no
/// further; any other goes on.
pub async fn check_hosts(State(policy): State<HostPolicy>, req: Request, next: Next) -> Response {
    match policy.check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Middleware: as [`check_hosts`], for `Host` alone
/// ([`HostPolicy::check_host`]).
pub async fn check_host(State(policy): State<HostPolicy>, req: Request, next: Next) -> Response {
    match policy.check_host(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// The one value of a header that may appear at most once: 400 if it is
/// repeated.
fn single<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
    shown: &'static str,
) -> Result<Option<&'h HeaderValue>, TransportError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(TransportError::RepeatedHeader(shown));
    }
    Ok(first)
}

/// The authority of an origin like `http://localhost:3000`: an origin is a
/// scheme and an authority, nothing after it (RFC 6454 §6.2).
fn origin_authority(origin: &str) -> Option<&str> {
    let (scheme, authority) = origin.split_once("://")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    (scheme_ok && !authority.is_empty() && !authority.contains('/')).then_some(authority)
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

/// The session id header, if present; 400 if it is not visible ASCII or
/// is repeated (two ids would name two sessions).
pub fn session_id(headers: &HeaderMap) -> Result<Option<&str>, TransportError> {
    match single(headers, &SESSION_NAME, "Mcp-Session-Id")? {
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

/// The protocol version header, if present. One that is not text, or is
/// repeated, names no version (`"\u{fffd}"`), so it is refused as an
/// unsupported one on every path.
pub fn protocol_version(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(&VERSION_NAME).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some("\u{fffd}");
    }
    Some(first.to_str().unwrap_or("\u{fffd}"))
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
        let any = HostPolicy::new(&["*".into()]);
        assert!(any.check(&headers(&[("host", "x")])).is_ok());
        assert!(any.check(&headers(&[("host", "x@y")])).is_err());
    }

    #[test]
    fn a_repeated_host_or_origin_is_refused() {
        let p = HostPolicy::new(&["*".into()]);
        for (name, pairs) in [
            ("Host", &[("host", "127.0.0.1:1"), ("host", "evil.com")][..]),
            ("Host", &[("host", "localhost"), ("host", "localhost")][..]),
            (
                "Origin",
                &[
                    ("host", "localhost"),
                    ("origin", "http://localhost"),
                    ("origin", "http://evil.com"),
                ][..],
            ),
        ] {
            let err = p.check(&headers(pairs)).unwrap_err();
            assert!(
                matches!(err, TransportError::RepeatedHeader(n) if n == name),
                "{pairs:?}: {err:?}"
            );
            assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn a_host_is_a_host_and_a_numeric_port() {
        let p = HostPolicy::new(&[]);
        for ok in [
            "localhost",
            "localhost:1",
            "LOCALHOST:8080",
            "[::1]",
            "[::1]:80",
        ] {
            assert!(p.check(&headers(&[("host", ok)])).is_ok(), "{ok}");
        }
        for bad in [
            "localhost:80@evil.com",
            "localhost@evil.com",
            "evil.com@localhost",
            "localhost:abc",
            "localhost/x",
            "localhost, evil.com",
            "::1",
            "",
        ] {
            assert!(p.check(&headers(&[("host", bad)])).is_err(), "{bad}");
        }
        for bad in [
            "http://localhost:80@evil.com",
            "http://localhost/",
            "localhost",
            "://localhost",
            "http://",
        ] {
            let h = headers(&[("host", "localhost"), ("origin", bad)]);
            assert!(p.check(&h).is_err(), "{bad}");
        }
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
