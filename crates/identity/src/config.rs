//! `[upstreams.auth]`: how an upstream's tokens are had.

use serde::{Deserialize, Serialize};
use switchboard_secret::Secret;

/// The RFC 8693 grant type.
pub(crate) const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Where the authorization server sends users back (`redirect_uri` ends
/// with it); the connect page is the path without `/callback`.
pub const CALLBACK: &str = "/connect/callback";

/// An access token, as a token type (RFC 8693 §3).
pub(crate) const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Which grant the token endpoint is asked with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// RFC 8693: the caller's own JWT for one meant for the upstream.
    #[default]
    TokenExchange,
    /// RFC 6749 §4.4: the tenant's (or the upstream's) service identity.
    ClientCredentials,
    /// RFC 6749 §4.1 with PKCE: each user signs in at the upstream's
    /// authorization server once, sent there by a URL elicitation; the
    /// grant is kept in the vault and refreshed.
    AuthorizationCode,
}

/// An upstream's `[upstreams.auth]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamAuth {
    /// `token_exchange` (default) or `client_credentials`.
    pub grant: Grant,
    /// The identity provider's token endpoint (`https://`, or `http://`
    /// for a local one).
    pub token_endpoint: String,
    /// `authorization_code`: the authorization server's authorization
    /// endpoint, where users sign in. With `token_endpoint` empty too, both
    /// are discovered: from `issuer`'s metadata (RFC 8414), or, without an
    /// `issuer` (and only for a public client: no `client_secret`), from
    /// the authorization server the upstream's protected-resource metadata
    /// names (RFC 9728).
    pub authorization_endpoint: Option<String>,
    /// `authorization_code`: the authorization server's issuer, whose
    /// metadata gives the endpoints.
    pub issuer: Option<String>,
    /// `authorization_code`: Switchboard's `/connect/callback` as users'
    /// browsers reach it (registered at the authorization server); the
    /// connect page is its `/connect`.
    pub redirect_uri: Option<String>,
    /// Switchboard's client id there (a tenant's own in
    /// `[upstreams.tenants.<id>]` for client credentials).
    pub client_id: String,
    /// Its secret (HTTP Basic, RFC 6749 §2.3.1); none for a public client.
    pub client_secret: Option<Secret>,
    /// `audience`: the upstream as the provider names it.
    pub audience: Option<String>,
    /// `resource` (RFC 8707): the upstream's URL, if the provider takes it.
    pub resource: Option<String>,
    /// `scope`, space-joined.
    pub scopes: Vec<String>,
    /// The token type the caller's token is presented as. Default
    /// `urn:ietf:params:oauth:token-type:access_token`.
    pub subject_token_type: String,
    /// An actor token (delegation, RFC 8693 §4.1): who acts for the user.
    pub actor_token: Option<Secret>,
    /// Its type. Default `urn:ietf:params:oauth:token-type:access_token`.
    pub actor_token_type: String,
    /// Milliseconds one request to the token endpoint may take. Default
    /// 5000.
    pub timeout_ms: u64,
    /// Consecutive failures (unreachable, timeout, a 5xx) that open the
    /// endpoint's circuit breaker. Default 3.
    pub breaker_failures: u32,
    /// Seconds the breaker stays open. Default 10.
    pub breaker_cool_down_secs: u64,
}

impl Default for UpstreamAuth {
    fn default() -> Self {
        Self {
            grant: Grant::TokenExchange,
            token_endpoint: String::new(),
            authorization_endpoint: None,
            issuer: None,
            redirect_uri: None,
            client_id: String::new(),
            client_secret: None,
            audience: None,
            resource: None,
            scopes: Vec::new(),
            subject_token_type: ACCESS_TOKEN.to_owned(),
            actor_token: None,
            actor_token_type: ACCESS_TOKEN.to_owned(),
            timeout_ms: 5000,
            breaker_failures: 3,
            breaker_cool_down_secs: 10,
        }
    }
}

impl UpstreamAuth {
    /// Whether the endpoints are to be discovered (neither is given).
    pub fn discovers(&self) -> bool {
        self.token_endpoint.is_empty() && self.authorization_endpoint.is_none()
    }

    /// Check it; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let url = &self.token_endpoint;
        let discovered = self.grant == Grant::AuthorizationCode && self.discovers();
        if !(discovered || url.starts_with("https://") || url.starts_with("http://")) {
            return Err((
                "token_endpoint".into(),
                "the identity provider's token endpoint: an http(s) URL".into(),
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(("client_id".into(), "is required".into()));
        }
        if self.grant == Grant::AuthorizationCode {
            let http = |u: &Option<String>| {
                u.as_deref()
                    .is_some_and(|u| u.starts_with("https://") || u.starts_with("http://"))
            };
            if !discovered && !http(&self.authorization_endpoint) {
                return Err((
                    "authorization_endpoint".into(),
                    "grant = \"authorization_code\" needs the authorization server's authorization endpoint (an http(s) URL), or neither endpoint to discover them".into(),
                ));
            }
            if discovered && self.issuer.is_none() && self.client_secret.is_some() {
                return Err((
                    "issuer".into(),
                    "with a client_secret, name the authorization server (issuer, or both endpoints): the one the upstream names is not trusted with the secret".into(),
                ));
            }
            if self
                .issuer
                .as_deref()
                .is_some_and(|i| !http(&Some(i.to_owned())))
            {
                return Err(("issuer".into(), "an http(s) URL".into()));
            }
            if !http(&self.redirect_uri)
                || !self
                    .redirect_uri
                    .as_deref()
                    .is_some_and(|u| u.ends_with(CALLBACK))
            {
                return Err((
                    "redirect_uri".into(),
                    format!(
                        "grant = \"authorization_code\" needs Switchboard's {CALLBACK} as browsers reach it (an http(s) URL)"
                    ),
                ));
            }
        }
        if self.timeout_ms == 0 {
            return Err(("timeout_ms".into(), "must be greater than 0".into()));
        }
        if self.subject_token_type.is_empty() || self.actor_token_type.is_empty() {
            return Err((
                "subject_token_type".into(),
                "token types must not be empty".into(),
            ));
        }
        Ok(())
    }
}
