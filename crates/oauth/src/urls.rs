//! The URLs the authorization server checks: its issuer, clients' redirect
//! URIs, and the redirect back with the answer.

use url::Url;

/// Whether `host` names this machine: `localhost`, `127.0.0.1` or `[::1]`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1")
}

/// `s` as an origin (`https://host[:port]`, or `http://` on a loopback
/// host), with no path, query or fragment; written back without a slash.
pub(crate) fn origin(s: &str) -> Option<String> {
    let url = Url::parse(s).ok()?;
    let host = url.host_str()?;
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && is_loopback_host(host));
    let bare = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && !s.ends_with('/');
    (scheme_ok && bare).then(|| s.to_owned())
}

/// Schemes a redirect URI may never have.
const FORBIDDEN_SCHEMES: [&str; 7] = [
    "javascript",
    "data",
    "file",
    "about",
    "blob",
    "vbscript",
    "ftp",
];

/// Longest redirect URI accepted.
pub(crate) const MAX_REDIRECT_URI: usize = 2000;

/// Check a redirect URI a client registers: absolute, no fragment, no user
/// info; `https://`, `http://` on a loopback host, or a private-use scheme
/// of a native app (RFC 8252 §7.1: it contains a dot).
pub(crate) fn redirect_uri(s: &str) -> Result<Url, &'static str> {
    if s.len() > MAX_REDIRECT_URI {
        return Err("too long");
    }
    let url = Url::parse(s).map_err(|_| "not an absolute URI")?;
    if url.fragment().is_some() {
        return Err("has a fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("has user info");
    }
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(url),
        "http" if url.host_str().is_some_and(is_loopback_host) => Ok(url),
        "http" | "https" => Err("http:// only on a loopback host"),
        s if FORBIDDEN_SCHEMES.contains(&s) => Err("scheme not allowed"),
        s if s.contains('.') => Ok(url),
        _ => Err("a private-use scheme must be a reversed domain name (RFC 8252 §7.1)"),
    }
}

/// Whether the redirect URI a request names matches one registered:
/// exactly, or, for a loopback `http://` URI, in everything but the port
/// (RFC 8252 §7.3).
pub(crate) fn redirect_matches(registered: &[String], asked: &str) -> bool {
    if registered.iter().any(|r| r == asked) {
        return true;
    }
    let Ok(asked) = Url::parse(asked) else {
        return false;
    };
    if asked.scheme() != "http" || !asked.host_str().is_some_and(is_loopback_host) {
        return false;
    }
    registered
        .iter()
        .filter_map(|r| Url::parse(r).ok())
        .any(|r| {
            r.scheme() == "http"
                && r.host_str() == asked.host_str()
                && r.path() == asked.path()
                && r.query() == asked.query()
        })
}

/// `redirect_uri` with `params` added to its query (RFC 6749 §4.1.2).
pub(crate) fn with_query(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(redirect_uri).expect("redirect URIs are checked when registered");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers() {
        assert!(origin("https://mcp.example.com").is_some());
        assert!(origin("http://127.0.0.1:8080").is_some());
        assert!(origin("http://mcp.example.com").is_none());
        assert!(origin("https://mcp.example.com/").is_none());
        assert!(origin("https://mcp.example.com/x").is_none());
        assert!(origin("https://u@mcp.example.com").is_none());
        assert!(origin("https://mcp.example.com?x").is_none());
    }

    #[test]
    fn redirect_uris() {
        assert!(redirect_uri("https://app.example.com/cb").is_ok());
        assert!(redirect_uri("http://127.0.0.1:3000/callback").is_ok());
        assert!(redirect_uri("http://localhost/cb").is_ok());
        assert!(redirect_uri("com.example.app:/cb").is_ok());
        assert!(redirect_uri("http://evil.example.com/cb").is_err());
        assert!(redirect_uri("javascript:alert(1)").is_err());
        assert!(redirect_uri("https://app.example.com/cb#x").is_err());
        assert!(redirect_uri("myapp:/cb").is_err());
        assert!(redirect_uri("/relative").is_err());
    }

    #[test]
    fn loopback_ports_vary() {
        let reg = vec!["http://127.0.0.1:3000/callback".to_owned()];
        assert!(redirect_matches(&reg, "http://127.0.0.1:3000/callback"));
        assert!(redirect_matches(&reg, "http://127.0.0.1:4111/callback"));
        assert!(!redirect_matches(&reg, "http://127.0.0.1:4111/other"));
        assert!(!redirect_matches(&reg, "http://localhost:3000/callback"));
        let reg = vec!["https://app.example.com/cb".to_owned()];
        assert!(!redirect_matches(&reg, "https://app.example.com:444/cb"));
        assert!(!redirect_matches(&reg, "https://app.example.com/cb?x=1"));
    }
}
