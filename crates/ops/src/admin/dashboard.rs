//! `GET /` and `/dashboard`: the live dashboard, one self-contained page
//! (`dashboard.html`: inline CSS and vanilla JS, no build step, nothing
//! loaded from elsewhere) compiled into the binary. Static: it carries no
//! data and needs no credential; its script asks `/admin/v1/stats` with the
//! admin token the operator gives it. A Content-Security-Policy allows only
//! its own inline script and style (by SHA-256) and connections to this
//! origin, so nothing injected into it could run or send data elsewhere.

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{HeaderValue, header};
use sha2::{Digest, Sha256};

/// The page.
const PAGE: &str = include_str!("dashboard.html");

pub(super) async fn page() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, csp().clone()),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        PAGE,
    )
        .into_response()
}

/// The policy, with the hashes of the page's one script and one style.
fn csp() -> &'static HeaderValue {
    static CSP: OnceLock<HeaderValue> = OnceLock::new();
    CSP.get_or_init(|| {
        let hashes = |tag| {
            blocks(PAGE, tag)
                .iter()
                .map(|b| format!("'sha256-{}'", sha256_b64(b)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let policy = format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
             img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hashes("script"),
            hashes("style"),
        );
        HeaderValue::from_str(&policy).expect("a CSP of ASCII hashes is a valid header value")
    })
}

/// The text inside each `<tag>…</tag>` of `page` (the bytes a CSP hash covers).
fn blocks<'a>(page: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(&close) else { break };
        out.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    out
}

fn sha256_b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_covers_exactly_the_pages_one_script_and_one_style() {
        // A second <script> or <style>, or one with attributes, would be
        // blocked by the policy (or missed by `blocks`): keep the page to one each.
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert_eq!(PAGE.matches("<style").count(), 1);
        let policy = csp().to_str().unwrap();
        let script = blocks(PAGE, "script");
        assert_eq!(script.len(), 1);
        assert!(script[0].contains("/admin/v1/stats"));
        assert!(policy.contains(&format!("script-src 'sha256-{}';", sha256_b64(script[0]))));
        assert!(policy.contains("connect-src 'self'"));
        assert!(!policy.contains("unsafe"));
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        // The only absolute URL is the SVG namespace, which is a name, not a fetch.
        let urls: Vec<&str> = PAGE
            .match_indices("://")
            .map(|(i, _)| &PAGE[PAGE[..i].rfind(['"', '`', '\'', ' ']).unwrap_or(0)..i + 3])
            .collect();
        assert_eq!(urls, vec!["\"http://"], "{urls:?}");
        assert!(PAGE.contains("\"http://www.w3.org/2000/svg\""));
    }

    #[test]
    fn the_token_is_taken_from_the_fragment_never_the_query() {
        assert!(PAGE.contains("location.hash"));
        assert!(!PAGE.contains("location.search.") && !PAGE.contains("URLSearchParams"));
        assert!(PAGE.contains("sessionStorage"));
    }
}
