//! The connect pages of OAuth to upstreams (`grant = "authorization_code"`):
//! `GET /connect?state=…`, where a URL elicitation sends the user, which
//! sends the browser on to the upstream's authorization server; and
//! `GET /connect/callback`, where the server sends it back with a code,
//! redeemed for the user who started the sign-in. Both behind the
//! `Host`/`Origin` check; pages that carry no secret, are never cached and
//! send no referrer. Which user a sign-in is for was fixed when it was
//! started, from the caller's credential: the browser brings none.
//!
//! `GET /connect/client-metadata.json` is Switchboard's Client ID Metadata
//! Document, the client id it presents to authorization servers that take
//! one.
//!
//! And a user's own connections, authenticated like `/mcp`:
//! `GET /connect/connections` lists them (never a token),
//! `DELETE /connect/connections/{upstream}` forgets one.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use switchboard_config::{Config, Live};
use switchboard_http::client::PeerAddr;
use switchboard_http::reply::json_response;
use switchboard_identity::connect::{self, CallbackError};
use switchboard_identity::{CLIENT_METADATA, Grant, UpstreamAuth, Vault};
use switchboard_observe::audit::AuditEvent;
use switchboard_runtime::Catalog;
use switchboard_tenancy::{Gate, Principal};

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
        .route(
            CLIENT_METADATA,
            layers.guarded(axum::routing::get(client_metadata)),
        )
        .route(
            "/connect/connections",
            layers.guarded(axum::routing::get(list)),
        )
        .route(
            "/connect/connections/{upstream}",
            layers.guarded(axum::routing::delete(revoke)),
        )
}

/// What the pages reach.
#[derive(Clone)]
pub(crate) struct Connect {
    pub(crate) vault: Option<Arc<Vault>>,
    pub(crate) config: Live<Config>,
    pub(crate) gate: Gate,
    pub(crate) catalog: Arc<Catalog>,
}

/// The authenticated caller and the vault, or the response refusing.
async fn caller(
    connect: &Connect,
    headers: &HeaderMap,
    peer: Option<axum::Extension<PeerAddr>>,
) -> Result<(Arc<Vault>, Principal), Response> {
    let Some(vault) = connect.vault.clone() else {
        return Err(StatusCode::NOT_FOUND.into_response());
    };
    let addr = switchboard_http::client::identity(peer);
    let principal = connect
        .gate
        .authenticate(headers, &addr)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((vault, principal))
}

/// `GET /connect/connections`: the caller's grants for upstreams.
async fn list(
    State(connect): State<Connect>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerAddr>>,
) -> Response {
    let (vault, p) = match caller(&connect, &headers, peer).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    match connect::connections(&vault, &p.tenant.id, Some(&p.subject)).await {
        Ok(list) => json_response(
            StatusCode::OK,
            serde_json::json!({ "connections": list }).to_string(),
        ),
        Err(e) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "error": e.to_string() }).to_string(),
        ),
    }
}

/// `DELETE /connect/connections/{upstream}`: forget the caller's grant
/// for it (on this node at once; a token another node holds lapses with
/// its lifetime).
async fn revoke(
    State(connect): State<Connect>,
    Path(upstream): Path<String>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerAddr>>,
) -> Response {
    let (vault, p) = match caller(&connect, &headers, peer).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let removed = connect::revoke(&vault, &p.tenant.id, &p.subject, &upstream).await;
    for provider in connect.catalog.providers().iter() {
        provider.forget_caller(&p.tenant.id, &p.subject);
    }
    match removed {
        Ok(0) => StatusCode::NOT_FOUND.into_response(),
        Ok(_) => {
            audit(
                &connect.gate,
                &p.tenant.id,
                &p.subject,
                &upstream,
                "revoked",
            );
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "error": e.to_string() }).to_string(),
        ),
    }
}

/// An `upstream_grant` audit event (never a token).
fn audit(gate: &Gate, tenant: &str, subject: &str, upstream: &str, outcome: &str) {
    gate.audit().record(&AuditEvent {
        event: "upstream_grant",
        tenant: Some(tenant),
        principal: Some(subject),
        upstream: Some(upstream),
        outcome,
        ..AuditEvent::default()
    });
}

/// `GET /connect/client-metadata.json`: Switchboard's Client ID Metadata
/// Document, for authorization servers that take its URL as a client id
/// (`client_metadata_url`, by default beside an `https://` redirect URI).
/// Its `client_id` is that URL — the one of the upstreams' whose host is
/// the request's, or the first — and its redirect URIs every upstream's
/// that presents the same URL. A public client (`token_endpoint_auth_method`
/// `none`) asking for codes and refresh tokens. 404 when no upstream
/// presents a document served here.
async fn client_metadata(State(connect): State<Connect>, headers: HeaderMap) -> Response {
    let config = connect.config.load();
    let presented: Vec<(String, String)> = config
        .upstreams
        .iter()
        .flat_map(|u| {
            let lanes = std::iter::once(None).chain(u.tenants.keys().map(|t| Some(t.as_str())));
            lanes.filter_map(|lane| u.auth_for(lane))
        })
        .filter(|a| a.grant == Grant::AuthorizationCode)
        .filter_map(|a| Some((a.client_metadata_url()?, a.redirect_uri.clone()?)))
        .filter(|(url, _)| {
            url.split('?')
                .next()
                .unwrap_or_default()
                .ends_with(CLIENT_METADATA)
        })
        .collect();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let authority = |url: &str| {
        url.split_once("://")
            .map(|(_, rest)| {
                rest.split('/')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default()
    };
    let Some(url) = presented
        .iter()
        .find(|(url, _)| authority(url) == host)
        .or_else(|| presented.first())
        .map(|(url, _)| url.clone())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut redirect_uris: Vec<&str> = Vec::new();
    for (u, redirect) in &presented {
        if *u == url && !redirect_uris.contains(&redirect.as_str()) {
            redirect_uris.push(redirect);
        }
    }
    let document = serde_json::json!({
        "client_id": url,
        "client_name": "Switchboard",
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let mut resp = json_response(StatusCode::OK, document.to_string());
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

/// The upstream's authorization settings for a sign-in's credential set.
fn auth_of(config: &Config, upstream: &str, lane: &str) -> Option<UpstreamAuth> {
    let u = config.upstreams.iter().find(|u| u.name == upstream)?;
    u.auth_for((!lane.is_empty()).then_some(lane))
}

/// Why a sign-in page refuses at once: its status, title and text.
type Refused = (StatusCode, &'static str, &'static str);

/// The vault and the query's parameters of a sign-in page, or why the page
/// refuses: no vault here, or a parameter given twice.
fn opened<'a>(
    connect: &'a Connect,
    raw: Option<&str>,
) -> Result<(&'a Vault, HashMap<String, String>), Refused> {
    let vault = connect.vault.as_deref().ok_or((
        StatusCode::NOT_FOUND,
        "No sign-ins here",
        "This server keeps no grants.",
    ))?;
    let query = parse(raw).ok_or((
        StatusCode::BAD_REQUEST,
        "Sign-in refused",
        "A parameter is given twice.",
    ))?;
    Ok((vault, query))
}

/// `GET /connect?state=…`: on to the authorization server.
async fn page(State(connect): State<Connect>, RawQuery(raw): RawQuery) -> Response {
    let (vault, query) = match opened(&connect, raw.as_deref()) {
        Ok(opened) => opened,
        Err((status, title, text)) => return shown(status, title, text),
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
    let (vault, query) = match opened(&connect, raw.as_deref()) {
        Ok(opened) => opened,
        Err((status, title, text)) => return shown(status, title, text),
    };
    let state = query.get("state").map(String::as_str).unwrap_or_default();
    let config = connect.config.load();
    let answer = connect::Response {
        code: query.get("code").map(String::as_str),
        error: query.get("error").map(String::as_str),
        iss: query.get("iss").map(String::as_str),
    };
    let finished = connect::finish(
        vault,
        |p| auth_of(&config, &p.upstream, &p.lane),
        state,
        answer,
    )
    .await;
    match finished {
        Ok(p) => {
            tracing::info!(tenant = %p.tenant, principal = %p.subject, upstream = %p.upstream, "upstream grant made");
            audit(&connect.gate, &p.tenant, &p.subject, &p.upstream, "granted");
            let what = format!(
                "Switchboard can now use {} as {}. You can close this page and go back to your client.",
                p.upstream, p.subject
            );
            shown(StatusCode::OK, "Connected", &what)
        }
        Err(e) => {
            tracing::info!(error = %e, "upstream sign-in refused");
            connect.gate.audit().record(&AuditEvent {
                event: "upstream_grant",
                outcome: "refused",
                detail: Some(&e.to_string()),
                ..AuditEvent::default()
            });
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
