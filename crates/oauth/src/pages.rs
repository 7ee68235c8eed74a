//! The pages a user sees: sign in, consent, and an error that is shown
//! rather than sent to a client. Plain HTML, every value escaped; never
//! framed, never cached, no referrer, no script.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::paths::{CONSENT, LOGIN};

/// `s` escaped for HTML text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page with `title` and `body` (already escaped).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <style>body{{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}\
         input,button{{font-size:1rem;margin:.3rem 0;padding:.4rem}}label{{display:block}}</style>\
         </head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title),
    );
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    resp
}

/// The sign-in form of pending request `txn`.
pub(crate) fn login(txn: &str, client: &str, failed: bool) -> Response {
    let note = if failed {
        "<p role=\"alert\">Wrong name or password.</p>"
    } else {
        ""
    };
    let status = if failed {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    page(
        status,
        "Sign in to Switchboard",
        &format!(
            "<p><b>{client}</b> asks to use Switchboard for you.</p>{note}\
             <form method=\"post\" action=\"{LOGIN}\">\
             <input type=\"hidden\" name=\"txn\" value=\"{txn}\">\
             <label>Name <input name=\"username\" autocomplete=\"username\" required></label>\
             <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
             <button type=\"submit\">Sign in</button></form>",
            client = escape(client),
            txn = escape(txn),
        ),
    )
}

/// The consent page: which client, where it will be sent, what it gets.
pub(crate) fn consent(
    txn: &str,
    client: &str,
    redirect_host: &str,
    resource: &str,
    scopes: &[String],
) -> Response {
    let scopes = if scopes.is_empty() {
        "no scopes".to_owned()
    } else {
        scopes
            .iter()
            .map(|s| escape(s))
            .collect::<Vec<_>>()
            .join(", ")
    };
    page(
        StatusCode::OK,
        "Allow access?",
        &format!(
            "<p><b>{client}</b> (returning to <b>{host}</b>) asks for access to \
             <b>{resource}</b> as you, with {scopes}.</p>\
             <form method=\"post\" action=\"{CONSENT}\">\
             <input type=\"hidden\" name=\"txn\" value=\"{txn}\">\
             <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            client = escape(client),
            host = escape(redirect_host),
            resource = escape(resource),
            txn = escape(txn),
        ),
    )
}

/// An error shown to the user (never a redirect to an unchecked URI).
pub(crate) fn error(status: StatusCode, why: &str) -> Response {
    page(status, "Cannot sign in", &format!("<p>{}</p>", escape(why)))
}
