//! The connect pages of OAuth to upstreams (`grant = "authorization_code"`):
//! `GET /connect?state=…`, where a URL elicitation sends the user, which
//! sends the browser on to the upstream's authorization server; and
//! `GET /connect/callback`, where the server sends it back with a code,
//! redeemed for the user who started the sign-in. Both behind the
//! `Host`/`Origin` check; pages that carry no secret, are never cached and
//! send no referrer. Which user a sign-in is for was fixed when it was
//! started, from the caller's credential: the browser brings none.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use switchboard_config::{Config, Live};
use switchboard_identity::connect::{self, CallbackError};
use switchboard_identity::{UpstreamAuth, Vault};

use crate::Fronts;
use crate::layers::Layers;

/// The connect page and its callback.
pub(crate) fn routes(layers: &Layers) -> axum::Router<Fronts> {
    axum::Router::new()
        .route("/connect", layers.guarded(axum::routing::get(page)))
        .route(
            "/connect/callback",
            layers.guarded(axum::routing::get(callback)),
        )
}

/// What the pages reach.
#[derive(Clone)]
pub(crate) struct Connect {
    pub(crate) vault: Option<Arc<Vault>>,
    pub(crate) config: Live<Config>,
}

/// The upstream's authorization settings for a sign-in's credential set.
fn auth_of(config: &Config, upstream: &str, lane: &str) -> Option<UpstreamAuth> {
    let u = config.upstreams.iter().find(|u| u.name == upstream)?;
    u.auth_for((!lane.is_empty()).then_some(lane))
}

/// `GET /connect?state=…`: on to the authorization server.
async fn page(State(connect): State<Connect>, RawQuery(raw): RawQuery) -> Response {
    let Some(vault) = &connect.vault else {
        return shown(
            StatusCode::NOT_FOUND,
            "No sign-ins here",
            "This server keeps no grants.",
        );
    };
    let Some(query) = parse(raw.as_deref()) else {
        return shown(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "A parameter is given twice.",
        );
    };
    // Only the state: the browser is sent to the configured authorization
    // server and back to the configured callback, never elsewhere.
    if let Some(other) = query.keys().find(|k| k.as_str() != "state") {
        let what = format!("This page takes no parameter {:?}.", cut(other));
        return shown(StatusCode::BAD_REQUEST, "Sign-in refused", &what);
    }
    let state = query.get("state").map(String::as_str).unwrap_or_default();
    let Some(pending) = connect::pending(vault, state).await else {
        return shown(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            &CallbackError::UnknownState.to_string(),
        );
    };
    let config = connect.config.load();
    let Some(auth) = auth_of(&config, &pending.upstream, &pending.lane) else {
        return shown(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "The upstream of this sign-in is no longer configured.",
        );
    };
    let to = connect::authorize_url(&auth, state, &pending);
    let mut resp = StatusCode::FOUND.into_response();
    match HeaderValue::from_str(&to) {
        Ok(location) => {
            resp.headers_mut().insert(header::LOCATION, location);
            private(resp)
        }
        Err(_) => shown(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-in failed",
            "The authorization endpoint is not a valid URL.",
        ),
    }
}

/// `GET /connect/callback?state=…&code=…` (or `&error=…`).
async fn callback(State(connect): State<Connect>, RawQuery(raw): RawQuery) -> Response {
    let Some(vault) = &connect.vault else {
        return shown(
            StatusCode::NOT_FOUND,
            "No sign-ins here",
            "This server keeps no grants.",
        );
    };
    let Some(query) = parse(raw.as_deref()) else {
        return shown(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "A parameter is given twice.",
        );
    };
    let state = query.get("state").map(String::as_str).unwrap_or_default();
    let config = connect.config.load();
    let finished = connect::finish(
        vault,
        |p| auth_of(&config, &p.upstream, &p.lane),
        state,
        query.get("code").map(String::as_str),
        query.get("error").map(String::as_str),
    )
    .await;
    match finished {
        Ok(p) => {
            tracing::info!(tenant = %p.tenant, principal = %p.subject, upstream = %p.upstream, "upstream grant made");
            let what = format!(
                "Switchboard can now use {} as {}. You can close this page and go back to your client.",
                p.upstream, p.subject
            );
            shown(StatusCode::OK, "Connected", &what)
        }
        Err(e) => {
            tracing::info!(error = %e, "upstream sign-in refused");
            shown(StatusCode::BAD_REQUEST, "Sign-in refused", &e.to_string())
        }
    }
}

/// The query's parameters; `None` if one is given twice (or the query is
/// over 8 KiB).
fn parse(raw: Option<&str>) -> Option<HashMap<String, String>> {
    let raw = raw.unwrap_or_default();
    if raw.len() > 8 * 1024 {
        return None;
    }
    let mut params = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        if params.insert(k.into_owned(), v.into_owned()).is_some() {
            return None;
        }
    }
    Some(params)
}

/// A small HTML page.
fn shown(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1>{t}</h1><p>{x}</p></body></html>",
        t = escape(title),
        x = escape(text)
    );
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    private(resp)
}

/// Never cached, no referrer (the URL holds a state or a code).
fn private(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn cut(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(40).collect()
}
