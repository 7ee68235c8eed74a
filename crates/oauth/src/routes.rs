//! The authorization server's HTTP endpoints. The ones clients call from
//! any origin (metadata, token, registration, revocation, keys) answer
//! CORS; the sign-in pages are for the user's browser alone.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::error::{OAuthError, no_store_json};
use crate::grants::Pending;
use crate::pages;
use crate::params::{Params, basic_credentials};
use crate::paths::{AUTHORIZE, CALLBACK, CONSENT, JWKS, LOGIN, REGISTER, REVOKE, TOKEN};
use crate::server::{AuthorizationServer, Refused};

/// The cookie binding a sign-in at the identity provider to the browser
/// that left for it.
const BROWSER_COOKIE: &str = "sb_oauth_browser";

/// Where the metadata is (RFC 8414 §3; the issuer has no path).
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// Largest request body read.
const MAX_BODY: usize = 64 * 1024;

type Server = State<Arc<AuthorizationServer>>;

/// The endpoints, over `server`.
pub fn router(server: Arc<AuthorizationServer>) -> Router {
    let api = Router::new()
        .route(METADATA_PATH, get(metadata).options(preflight))
        .route(TOKEN, post(token).options(preflight))
        .route(REGISTER, post(register).options(preflight))
        .route(REVOKE, post(revoke).options(preflight))
        .route(JWKS, get(jwks).options(preflight))
        .layer(axum::middleware::map_response(cors));
    Router::new()
        .route(AUTHORIZE, get(authorize))
        .route(LOGIN, post(login))
        .route(CONSENT, post(consent))
        .route(CALLBACK, get(callback))
        .merge(api)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(server)
}

fn json(body: &Value) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

async fn cors(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, MCP-Protocol-Version, DPoP"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("DPoP-Nonce, WWW-Authenticate"),
    );
    resp
}

async fn preflight() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn metadata(State(s): Server) -> Response {
    let mut resp = json(&s.metadata());
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    resp
}

async fn jwks(State(s): Server) -> Response {
    let mut resp = json(&s.jwks());
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    resp
}

/// `GET /oauth/authorize`: the sign-in page, or the refusal.
async fn authorize(State(s): Server, RawQuery(q): RawQuery) -> Response {
    let q = match Params::parse(q.unwrap_or_default().as_bytes()) {
        Ok(q) => q,
        Err(e) => return pages::error(StatusCode::BAD_REQUEST, &e),
    };
    match s.authorize(&q).await {
        Ok((txn, client)) => match s.to_idp(&txn).await {
            Ok(None) => pages::login(&txn, &client.name, false),
            Ok(Some((to, browser))) => {
                let mut resp = see_other(&to);
                let secure = if s.issuer().starts_with("https://") {
                    "; Secure"
                } else {
                    ""
                };
                let cookie = format!(
                    "{BROWSER_COOKIE}={browser}; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age=900{secure}"
                );
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    resp.headers_mut().insert(header::SET_COOKIE, v);
                }
                resp
            }
            Err(e) => pages::error(e.status, &e.description),
        },
        Err(Refused::Page(why)) => pages::error(StatusCode::BAD_REQUEST, &why),
        Err(Refused::Redirect {
            redirect_uri,
            state,
            error,
            description,
        }) => {
            let to = s.redirect(
                &redirect_uri,
                state.as_deref(),
                vec![
                    ("error", error.to_owned()),
                    ("error_description", description),
                ],
            );
            see_other(&to)
        }
    }
}

fn see_other(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => pages::error(StatusCode::BAD_REQUEST, "the redirect URI cannot be sent"),
    }
}

/// The one `DPoP` header, if there is one.
fn dpop_header(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    let mut values = headers.get_all("dpop").iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(OAuthError::dpop(crate::dpop::DpopError::Invalid(
            "more than one DPoP header".into(),
        )));
    }
    first
        .map(|v| {
            v.to_str().map_err(|_| {
                OAuthError::dpop(crate::dpop::DpopError::Invalid(
                    "the proof is not text".into(),
                ))
            })
        })
        .transpose()
}

/// A form body: `application/x-www-form-urlencoded` only.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.split(';').next().is_some_and(|t| {
        t.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    }) {
        return Err(OAuthError::request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(body).map_err(OAuthError::request)
}

/// `POST /oauth/login`: check the user, then the consent page.
async fn login(State(s): Server, headers: HeaderMap, body: Bytes) -> Response {
    let step = async {
        let f = form(&headers, &body)?;
        let get = |k: &str| {
            f.get(k)
                .map_err(OAuthError::request)
                .map(Option::unwrap_or_default)
        };
        let (txn, name, password) = (get("txn")?, get("username")?, get("password")?);
        let user = s.sign_in(txn, name, password).await?;
        let pending = s
            .pending(txn)
            .await?
            .ok_or_else(|| OAuthError::request("the sign-in expired; start again"))?;
        let client = s.client(&pending.client_id).await?;
        Ok::<_, OAuthError>(match user {
            Some(_) => consent_page(&s, txn, &pending).await?,
            None => pages::login(txn, &client.name, true),
        })
    };
    step.await
        .unwrap_or_else(|e| pages::error(e.status, &e.description))
}

/// The consent page of pending request `txn`, whose user has signed in.
async fn consent_page(
    s: &AuthorizationServer,
    txn: &str,
    pending: &Pending,
) -> Result<Response, OAuthError> {
    let who = pending
        .user
        .as_ref()
        .ok_or_else(|| OAuthError::request("sign in first"))?;
    let client = s.client(&pending.client_id).await?;
    let host = url::Url::parse(&pending.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| pending.redirect_uri.clone());
    Ok(pages::consent(
        txn,
        &client.name,
        &host,
        &pending.resource,
        &who.scopes,
    ))
}

/// The value of cookie `name`, if the request carries it.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `GET /oauth/callback`: back from the identity provider; the consent
/// page, or the refusal.
async fn callback(State(s): Server, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let q = match Params::parse(q.unwrap_or_default().as_bytes()) {
        Ok(q) => q,
        Err(e) => return pages::error(StatusCode::BAD_REQUEST, &e),
    };
    match s.back_from_idp(&q, cookie(&headers, BROWSER_COOKIE)).await {
        Ok((txn, pending)) => consent_page(&s, &txn, &pending)
            .await
            .unwrap_or_else(|e| pages::error(e.status, &e.description)),
        Err(Ok(back)) => see_other(&back),
        Err(Err(e)) => pages::error(e.status, &e.description),
    }
}

/// `POST /oauth/consent`: back to the client, with a code or a refusal.
async fn consent(State(s): Server, headers: HeaderMap, body: Bytes) -> Response {
    let step = async {
        let f = form(&headers, &body)?;
        let txn = f
            .get("txn")
            .map_err(OAuthError::request)?
            .unwrap_or_default();
        let allow = f.get("decision").map_err(OAuthError::request)? == Some("allow");
        s.consent(txn, allow).await
    };
    match step.await {
        Ok(to) => see_other(&to),
        Err(e) => pages::error(e.status, &e.description),
    }
}

async fn token(State(s): Server, headers: HeaderMap, body: Bytes) -> Response {
    let step = async {
        let f = form(&headers, &body)?;
        let basic = basic_credentials(&headers).map_err(OAuthError::client)?;
        let proof = dpop_header(&headers)?;
        s.token(&f, basic, proof).await
    };
    match step.await {
        Ok(body) => no_store_json(body),
        Err(e) => e.into_response(),
    }
}

async fn revoke(State(s): Server, headers: HeaderMap, body: Bytes) -> Response {
    let step = async {
        let f = form(&headers, &body)?;
        let basic = basic_credentials(&headers).map_err(OAuthError::client)?;
        s.revoke(&f, basic).await
    };
    match step.await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn register(State(s): Server, headers: HeaderMap, body: Bytes) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    if let Err(e) = s.throttle.take(crate::throttle::Kind::Register, "").await {
        return e.into_response();
    }
    match s.clients.register(&body, bearer.as_deref()).await {
        Ok(answer) => {
            let mut resp = no_store_json(answer);
            *resp.status_mut() = StatusCode::CREATED;
            resp
        }
        Err(e) => e.into_response(),
    }
}
