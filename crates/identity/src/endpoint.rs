//! One request to the token endpoint (RFC 6749 §3.2, RFC 8693 §2): a form
//! POST with the client's credentials in HTTP Basic, no redirects
//! followed, a timeout, and a bounded reply.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;
use switchboard_secret::{ClientToken, Secret};

use crate::config::{ACCESS_TOKEN, Grant, TOKEN_EXCHANGE, UpstreamAuth};
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

    /// GET a JSON document (metadata), bounded, no redirects followed.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, IdentityError> {
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
            return Err(unavailable(format!("{url} answered HTTP {status}")));
        }
        serde_json::from_slice(&body)
            .map_err(|_| unavailable(format!("{url} is not the metadata expected")))
    }

    /// POST `form` with the client's credentials.
    async fn post(&self, auth: &UpstreamAuth, form: String) -> Result<Issued, IdentityError> {
        let mut request = self
            .client
            .post(&auth.token_endpoint)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(form);
        if let Some(secret) = &auth.client_secret {
            request = request.basic_auth(encode(&auth.client_id), Some(encode(secret.expose())));
        }
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(describe(&e)))?;
        let status = response.status();
        let body = read(response).await?;
        match status {
            StatusCode::OK => {
                let ok: Success = serde_json::from_slice(&body)
                    .map_err(|_| unavailable("a reply without an access_token".into()))?;
                Ok(Issued {
                    token: Secret::new(ok.access_token),
                    expires_in: ok.expires_in.map(Duration::from_secs),
                    refresh_token: ok.refresh_token.map(Secret::new),
                })
            }
            s if s.is_client_error() => match serde_json::from_slice::<Failure>(&body) {
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
