//! Upstream MCP servers reached over Streamable HTTP: the client side of the
//! transport, with the same surface as a stdio upstream.
//!
//! One [`HttpUpstream`] is one MCP session with the server: requests are
//! POSTed with ids of ours and `_meta.progressToken` rewritten per call;
//! a reply may be JSON or an SSE stream whose notifications and requests
//! before the response go to the [`Downstream`](crate::Downstream); the
//! session's own GET stream does the same for what the server sends outside
//! any request.

mod answer;
mod call;
mod conn;
mod exchange;
mod h1;
mod incoming;
mod listen;
mod reply;
mod sse;
mod stateless;
mod upstream;

use std::fmt;
use std::time::Duration;

pub(crate) use h1::H1Pool;
pub use upstream::HttpUpstream;
pub(crate) use upstream::connections;

/// Default for [`HttpSpec::max_body_bytes`]: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// An MCP server at a URL.
#[derive(Clone)]
pub struct HttpSpec {
    /// The upstream's name, used in logs and error messages.
    pub name: String,
    /// The server's MCP endpoint (e.g. `https://example.com/mcp`).
    pub url: String,
    /// Headers sent with every exchange: the upstream's own credentials
    /// (e.g. its `Authorization`), never a client's. The transport's own
    /// headers (`Accept`, `Content-Type`, `Mcp-Session-Id`,
    /// `MCP-Protocol-Version`, `Last-Event-ID`) override any given here.
    pub headers: Vec<(String, String)>,
    /// How long `initialize` may take.
    pub init_timeout: Duration,
    /// The largest JSON reply, and the largest single SSE event, accepted.
    pub max_body_bytes: usize,
    /// Open a session with `initialize` (default). Off for a server that
    /// speaks only 2026-07-28: no session, every request stateless.
    pub handshake: bool,
}

impl HttpSpec {
    /// A spec with no extra headers and the defaults.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            headers: Vec::new(),
            init_timeout: crate::DEFAULT_INIT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            handshake: true,
        }
    }

    /// The same spec with one more header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Header values are left out: they are credentials.
impl fmt::Debug for HttpSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("HttpSpec")
            .field("name", &self.name)
            .field("url", &redacted_url(&self.url))
            .field("headers", &headers)
            .field("init_timeout", &self.init_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// A URL without its user info and query (either may hold credentials).
pub(crate) fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(not a URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secrets() {
        let spec = HttpSpec::new("x", "https://user:pw@example.com:8443/mcp?key=secret")
            .with_header("Authorization", "Bearer hunter2");
        let text = format!("{spec:?}");
        assert!(text.contains("Authorization"), "{text}");
        for secret in ["hunter2", "pw", "secret", "user"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("https://example.com:8443/mcp"), "{text}");
    }
}
