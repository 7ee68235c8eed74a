//! `GET /` and `/dashboard`: the dashboard page (a placeholder until the
//! page itself lands). Static: it carries no data and needs no credential.

use axum::response::{Html, IntoResponse, Response};

pub(super) async fn page() -> Response {
    Html(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Switchboard</title></head>\
         <body><h1>Switchboard admin</h1><p>The dashboard is not built yet; the admin API is at \
         <code>/admin/v1/</code>.</p></body></html>",
    )
    .into_response()
}
