//! One request to the token endpoint (RFC 6749 §3.2, RFC 8693 §2): a form
//! POST with the client's credentials in HTTP Basic, no redirects
//! followed, a timeout, and a bounded reply.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use switchboard_secret::{ClientToken, Secret};

use crate::config::{ACCESS_TOKEN, Grant, TOKEN_EXCHANGE, UpstreamAuth};
use crate::dpop::{self, DpopKey};
use crate::error::IdentityError;

/// Largest reply read.
const MAX_REPLY: usize = 64 * 1024;

/// A token the endpoint issued.
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) token: Secret,
    pub(crate) expires_in: Option<Duration>,
    /// With an authorization code or a refresh: the (rotated) refresh
    /// token, if the server gives one.
    pub(crate) refresh_token: Option<Secret>,
    /// The scope granted, if the server says (RFC 6749 §5.1).
    pub(crate) scope: Option<String>,
    /// The DPoP key the token is bound to, when the request carried a
    /// proof and the server answered `token_type` `DPoP` (RFC 9449 §5).
    pub(crate) dpop: Option<Arc<DpopKey>>,
}

impl Issued {
    /// A token had back from where it was kept, bound to `dpop` if it is.
    pub(crate) fn kept(token: String, left: Duration, dpop: Option<Arc<DpopKey>>) -> Self {
        Self {
            token: Secret::new(token),
            expires_in: Some(left),
            refresh_token: None,
            scope: None,
            dpop,
        }
    }
}

/// How a client authenticates at the token endpoint (RFC 6749 §2.3,
/// RFC 7591 §2 `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) enum AuthMethod {
    /// A public client: its `client_id` in the form.
    #[default]
    #[serde(rename = "none")]
    None,
    /// `client_secret_basic`: HTTP Basic.
    #[serde(rename = "client_secret_basic")]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form.
    #[serde(rename = "client_secret_post")]
    Post,
}

impl AuthMethod {
    pub(crate) fn name(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::Basic => "client_secret_basic",
            AuthMethod::Post => "client_secret_post",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "none" => Some(AuthMethod::None),
            "client_secret_basic" => Some(AuthMethod::Basic),
            "client_secret_post" => Some(AuthMethod::Post),
            _ => None,
        }
    }
}

/// The client a request to the token endpoint is made as. `Debug` leaves
/// out the secret.
#[derive(Clone, Default, Serialize, Deserialize)]
pub(crate) struct ClientAuth {
    pub(crate) id: String,
    /// Kept only sealed (in the vault) or in memory.
    #[serde(default)]
    pub(crate) secret: Option<String>,
    #[serde(default)]
    pub(crate) method: AuthMethod,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuth")
            .field("id", &self.id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl ClientAuth {
    /// The client `auth` configures.
    pub(crate) fn configured(auth: &UpstreamAuth) -> Self {
        let secret = auth.client_secret.as_ref().map(|s| s.expose().to_owned());
        Self {
            id: auth.client_id.clone(),
            method: if secret.is_some() {
                AuthMethod::Basic
            } else {
                AuthMethod::None
            },
            secret,
        }
    }
}

/// An authorization code as redeemed: with the redirect URI it was sent
/// to and the PKCE verifier of its sign-in.
#[derive(Clone, Copy)]
pub(crate) struct Code<'a> {
    pub(crate) code: &'a str,
    pub(crate) redirect_uri: &'a str,
    pub(crate) verifier: &'a str,
}

/// The token endpoint's client.
#[derive(Debug)]
pub(crate) struct Endpoint {
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Success {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
}

#[derive(Deserialize)]
struct Failure {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl Endpoint {
    pub(crate) fn new(auth: &UpstreamAuth) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(auth.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { client }
    }

    /// Ask for a token: by exchanging `subject`, or with the client's own
    /// credentials.
    pub(crate) async fn request(
        &self,
        auth: &UpstreamAuth,
        subject: Option<&ClientToken>,
    ) -> Result<Issued, IdentityError> {
        self.post(auth, form(auth, subject)).await
    }

    /// Redeem an authorization code (with its PKCE verifier).
    pub(crate) async fn redeem(
        &self,
        auth: &UpstreamAuth,
        code: &str,
        verifier: &str,
    ) -> Result<Issued, IdentityError> {
        // Built before any await: the serializer is not `Send`.
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code");
            form.append_pair("code", code);
            form.append_pair("redirect_uri", auth.redirect_uri.as_deref().unwrap_or(""));
            form.append_pair("code_verifier", verifier);
            finish(form, auth)
        };
        self.post(auth, body).await
    }

    /// Refresh a grant.
    pub(crate) async fn refresh(
        &self,
        auth: &UpstreamAuth,
        refresh_token: &str,
    ) -> Result<Issued, IdentityError> {
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token");
            form.append_pair("refresh_token", refresh_token);
            finish(form, auth)
        };
        self.post(auth, body).await
    }

    /// Redeem an authorization code as `client`, with its PKCE verifier
    /// and the `resource` it was asked for (RFC 8707 §2.2), and a proof of
    /// `dpop` if the grant is to be bound to it.
    pub(crate) async fn redeem_as(
        &self,
        token_endpoint: &str,
        client: &ClientAuth,
        resource: Option<&str>,
        code: Code<'_>,
        dpop: Option<&Arc<DpopKey>>,
    ) -> Result<Issued, IdentityError> {
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code");
            form.append_pair("code", code.code);
            form.append_pair("redirect_uri", code.redirect_uri);
            form.append_pair("code_verifier", code.verifier);
            if let Some(resource) = resource {
                form.append_pair("resource", resource);
            }
            client_form(&mut form, client);
            form.finish()
        };
        self.post_as(token_endpoint, client, body, dpop).await
    }

    /// Refresh a grant as `client` (RFC 6749 §6), for its `resource`,
    /// with a proof of `dpop` if the grant has a key.
    pub(crate) async fn refresh_as(
        &self,
        token_endpoint: &str,
        client: &ClientAuth,
        resource: Option<&str>,
        refresh_token: &str,
        dpop: Option<&Arc<DpopKey>>,
    ) -> Result<Issued, IdentityError> {
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token");
            form.append_pair("refresh_token", refresh_token);
            if let Some(resource) = resource {
                form.append_pair("resource", resource);
            }
            client_form(&mut form, client);
            form.finish()
        };
        self.post_as(token_endpoint, client, body, dpop).await
    }

    /// GET a JSON document (metadata), bounded, no redirects followed.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, IdentityError> {
        match self.try_json(url).await? {
            Ok(found) => Ok(found),
            Err(status) => Err(unavailable(format!("{url} answered HTTP {status}"))),
        }
    }

    /// GET a JSON document: it, or the status when it is not there (any
    /// answer but 200).
    pub(crate) async fn try_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<Result<T, StatusCode>, IdentityError> {
        let response = self
            .client
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unavailable(describe(&e)))?;
        let status = response.status();
        let body = read(response).await?;
        if status != StatusCode::OK {
            return Ok(Err(status));
        }
        serde_json::from_slice(&body)
            .map(Ok)
            .map_err(|_| unavailable(format!("{url} is not the metadata expected")))
    }

    /// POST a request without credentials to the upstream `url`, as a
    /// client's first request would go: the `WWW-Authenticate` of its 401
    /// (RFC 9728 §5.1), if it answers so. Anything else is `None`.
    pub(crate) async fn challenge(&self, url: &str) -> Option<String> {
        let body = r#"{"jsonrpc":"2.0","id":"switchboard-authorization","method":"tools/list"}"#;
        let response = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(body)
            .send()
            .await
            .ok()?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return None;
        }
        let values: Vec<&str> = response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// Register a client (RFC 7591 §3.1): the server's answer.
    pub(crate) async fn register(
        &self,
        registration_endpoint: &str,
        metadata: &serde_json::Value,
    ) -> Result<serde_json::Value, IdentityError> {
        let response = self
            .client
            .post(registration_endpoint)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(metadata.to_string())
            .send()
            .await
            .map_err(|e| unavailable(describe(&e)))?;
        let status = response.status();
        let body = read(response).await?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|_| unavailable("a registration answer that is not JSON".into()));
        }
        match serde_json::from_slice::<Failure>(&body) {
            Ok(f) => Err(IdentityError::Refused {
                upstream: String::new(),
                error: cut(&f.error),
                description: format!(
                    ": registration refused{}",
                    f.error_description
                        .map(|d| format!(" ({})", cut(&d)))
                        .unwrap_or_default()
                ),
            }),
            Err(_) => Err(unavailable(format!("registration answered HTTP {status}"))),
        }
    }

    /// POST `form` with the client's credentials.
    async fn post(&self, auth: &UpstreamAuth, form: String) -> Result<Issued, IdentityError> {
        self.post_as(
            &auth.token_endpoint,
            &ClientAuth::configured(auth),
            form,
            None,
        )
        .await
    }

    /// POST `form` to `url`, authenticated as `client` says (its id and
    /// secret are in the form already for `none` and
    /// `client_secret_post`), with a DPoP proof of `dpop` if given — sent
    /// once more with the server's nonce when it asks for one (RFC 9449
    /// §8: 400 `use_dpop_nonce` and a `DPoP-Nonce` header).
    async fn post_as(
        &self,
        url: &str,
        client: &ClientAuth,
        form: String,
        dpop: Option<&Arc<DpopKey>>,
    ) -> Result<Issued, IdentityError> {
        let mut nonce: Option<String> = None;
        loop {
            let mut request = self
                .client
                .post(url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "application/json")
                .body(form.clone());
            if let (AuthMethod::Basic, Some(secret)) = (client.method, &client.secret) {
                request = request.basic_auth(encode(&client.id), Some(encode(secret)));
            }
            if let Some(key) = dpop {
                request = request.header("DPoP", key.proof("POST", url, None, nonce.as_deref()));
            }
            let response = request
                .send()
                .await
                .map_err(|e| unavailable(describe(&e)))?;
            let status = response.status();
            let offered = response
                .headers()
                .get("dpop-nonce")
                .and_then(|v| v.to_str().ok())
                .and_then(dpop::nonce_of)
                .map(str::to_owned);
            let body = read(response).await?;
            match answer(status, &body, dpop) {
                Err(IdentityError::Refused { error, .. })
                    if error == "use_dpop_nonce" && nonce.is_none() && dpop.is_some() =>
                {
                    match offered {
                        Some(offered) => nonce = Some(offered),
                        None => {
                            return Err(unavailable(
                                "the server asked for a DPoP nonce without giving one".into(),
                            ));
                        }
                    }
                }
                outcome => return outcome,
            }
        }
    }
}

/// What the token endpoint's answer says: a token (bound to `dpop` when
/// the server says it is a DPoP token), or why not.
fn answer(
    status: StatusCode,
    body: &[u8],
    dpop: Option<&Arc<DpopKey>>,
) -> Result<Issued, IdentityError> {
    match status {
        StatusCode::OK => {
            let ok: Success = serde_json::from_slice(body)
                .map_err(|_| unavailable("a reply without an access_token".into()))?;
            let bound = ok
                .token_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("DPoP"));
            Ok(Issued {
                token: Secret::new(ok.access_token),
                expires_in: ok.expires_in.map(Duration::from_secs),
                refresh_token: ok.refresh_token.map(Secret::new),
                scope: ok.scope,
                dpop: dpop.filter(|_| bound).cloned(),
            })
        }
        s if s.is_client_error() => match serde_json::from_slice::<Failure>(body) {
            Ok(f) => Err(IdentityError::Refused {
                upstream: String::new(),
                error: cut(&f.error),
                description: f
                    .error_description
                    .map(|d| format!(": {}", cut(&d)))
                    .unwrap_or_default(),
            }),
            Err(_) => Err(unavailable(format!("HTTP {s}"))),
        },
        s => Err(unavailable(format!("HTTP {s}"))),
    }
}

/// The form body.
fn form(auth: &UpstreamAuth, subject: Option<&ClientToken>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    match auth.grant {
        Grant::TokenExchange => {
            form.append_pair("grant_type", TOKEN_EXCHANGE);
            if let Some(subject) = subject {
                form.append_pair("subject_token", subject.token.expose());
            }
            form.append_pair("subject_token_type", &auth.subject_token_type);
            form.append_pair("requested_token_type", ACCESS_TOKEN);
            if let Some(actor) = &auth.actor_token {
                form.append_pair("actor_token", actor.expose());
                form.append_pair("actor_token_type", &auth.actor_token_type);
            }
        }
        // An authorization-code upstream redeems codes and refreshes
        // grants instead (`redeem`, `refresh`); it never asks this way.
        Grant::ClientCredentials | Grant::AuthorizationCode => {
            form.append_pair("grant_type", "client_credentials");
        }
    }
    finish(form, auth)
}

/// The parameters every request carries: a public client's id, the
/// audience, resource and scope.
fn finish(mut form: form_urlencoded::Serializer<'_, String>, auth: &UpstreamAuth) -> String {
    if auth.client_secret.is_none() {
        form.append_pair("client_id", &auth.client_id);
    }
    if let Some(audience) = &auth.audience {
        form.append_pair("audience", audience);
    }
    if let Some(resource) = &auth.resource {
        form.append_pair("resource", resource);
    }
    if !auth.scopes.is_empty() {
        form.append_pair("scope", &auth.scopes.join(" "));
    }
    form.finish()
}

/// The client's own parameters: its `client_id` unless it authenticates
/// with HTTP Basic, and its secret with `client_secret_post`.
fn client_form(form: &mut form_urlencoded::Serializer<'_, String>, client: &ClientAuth) {
    match (client.method, &client.secret) {
        (AuthMethod::Basic, Some(_)) => {}
        (AuthMethod::Post, Some(secret)) => {
            form.append_pair("client_id", &client.id);
            form.append_pair("client_secret", secret);
        }
        _ => {
            form.append_pair("client_id", &client.id);
        }
    }
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before
/// they go into HTTP Basic.
fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn read(mut response: reqwest::Response) -> Result<Vec<u8>, IdentityError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unavailable(describe(&e)))?
    {
        if body.len() + chunk.len() > MAX_REPLY {
            return Err(unavailable(format!("a reply over {MAX_REPLY} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn unavailable(reason: String) -> IdentityError {
    IdentityError::Unavailable {
        upstream: String::new(),
        reason,
    }
}

/// What went wrong, without the URL (it is in the configuration).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".into();
    }
    if e.is_connect() {
        return "cannot connect".into();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// The provider's own words, cut short and to printable characters.
fn cut(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}
