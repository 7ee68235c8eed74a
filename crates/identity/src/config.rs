//! `[upstreams.auth]`: how an upstream's tokens are had.

use serde::{Deserialize, Serialize};
use switchboard_secret::Secret;

/// The RFC 8693 grant type.
pub(crate) const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Where the authorization server sends users back (`redirect_uri` ends
/// with it); the connect page is the path without `/callback`.
pub const CALLBACK: &str = "/connect/callback";
/// Where Switchboard serves its Client ID Metadata Document, beside the
/// callback.
pub const CLIENT_METADATA: &str = "/connect/client-metadata.json";

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
    /// `issuer`, from the authorization server the upstream names — its
    /// 401's `WWW-Authenticate` and its protected-resource metadata (RFC
    /// 9728) — as MCP clients find it (for a client with a
    /// `client_secret` only with `trust_upstream_issuer`).
    pub authorization_endpoint: Option<String>,
    /// `authorization_code`: the authorization server's issuer, whose
    /// metadata gives the endpoints.
    pub issuer: Option<String>,
    /// `authorization_code`: Switchboard's `/connect/callback` as users'
    /// browsers reach it (registered at the authorization server); the
    /// connect page is its `/connect`.
    pub redirect_uri: Option<String>,
    /// Switchboard's client id there (a tenant's own in
    /// `[upstreams.tenants.<id>]` for client credentials). Required, but
    /// for `authorization_code` with discovered endpoints: without one,
    /// Switchboard identifies itself by its Client ID Metadata Document
    /// (`client_metadata_url`) where the server takes one, else registers
    /// itself (RFC 7591).
    pub client_id: String,
    /// Its secret (HTTP Basic, RFC 6749 §2.3.1, or in the form where the
    /// server's metadata offers only `client_secret_post`); none for a
    /// public client.
    pub client_secret: Option<Secret>,
    /// `authorization_code` without a `client_id`: the URL of
    /// Switchboard's Client ID Metadata Document, presented as its client
    /// id to authorization servers whose metadata says
    /// `client_id_metadata_document_supported`. Default: beside
    /// `redirect_uri` (`…/connect/client-metadata.json`, served there) when
    /// that is `https://`; `""` for none (then such servers get a dynamic
    /// registration).
    pub client_metadata_url: Option<String>,
    /// `authorization_code` with a `client_secret`, no `issuer` and no
    /// endpoints: send the secret to the authorization server the
    /// upstream's protected-resource metadata names (a client registered
    /// in advance at a server not known in advance). Default `false`: a
    /// secret goes only to a server the configuration names.
    pub trust_upstream_issuer: bool,
    /// `authorization_code`: ask for sender-constrained tokens (DPoP, RFC
    /// 9449) where the authorization server's metadata offers ES256 in
    /// `dpop_signing_alg_values_supported`: each grant gets its own key,
    /// kept sealed with it, and every request to the upstream carries a
    /// fresh proof. Default `true`; `false` asks for bearer tokens always.
    pub dpop: bool,
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
            client_metadata_url: None,
            trust_upstream_issuer: false,
            dpop: true,
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

    /// Whether the authorization server is the one the upstream names
    /// (discovered, no `issuer`).
    pub fn through_upstream(&self) -> bool {
        self.grant == Grant::AuthorizationCode && self.discovers() && self.issuer.is_none()
    }

    /// The URL of Switchboard's Client ID Metadata Document, if it has
    /// one: `client_metadata_url`, or beside an `https://` redirect URI.
    pub fn client_metadata_url(&self) -> Option<String> {
        match self.client_metadata_url.as_deref() {
            Some("") => None,
            Some(url) => Some(url.to_owned()),
            None => {
                let callback = self.redirect_uri.as_deref()?;
                let base = callback.strip_suffix(CALLBACK)?;
                base.starts_with("https://")
                    .then(|| format!("{base}{CLIENT_METADATA}"))
            }
        }
    }

    /// Check it; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let url = &self.token_endpoint;
        let discovered = self.grant == Grant::AuthorizationCode && self.discovers();
        // A service identity's token endpoint may be discovered too (from
        // `issuer`, or the server the upstream names), but it needs its
        // client id.
        let service_discovered = self.grant == Grant::ClientCredentials && self.discovers();
        if !(discovered
            || service_discovered
            || url.starts_with("https://")
            || url.starts_with("http://"))
        {
            return Err((
                "token_endpoint".into(),
                "the identity provider's token endpoint: an http(s) URL".into(),
            ));
        }
        if self.client_id.trim().is_empty() && !discovered {
            return Err(("client_id".into(), "is required".into()));
        }
        if self.client_id.trim().is_empty() && self.client_secret.is_some() {
            return Err((
                "client_secret".into(),
                "a client_secret needs its client_id".into(),
            ));
        }
        if service_discovered
            && self.issuer.is_none()
            && self.client_secret.is_some()
            && !self.trust_upstream_issuer
        {
            return Err((
                "issuer".into(),
                "with a client_secret, name the authorization server (issuer, or token_endpoint): the one the upstream names is not trusted with the secret (unless trust_upstream_issuer = true)".into(),
            ));
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
            if discovered
                && self.issuer.is_none()
                && self.client_secret.is_some()
                && !self.trust_upstream_issuer
            {
                return Err((
                    "issuer".into(),
                    "with a client_secret, name the authorization server (issuer, or both endpoints): the one the upstream names is not trusted with the secret (unless trust_upstream_issuer = true)".into(),
                ));
            }
            if let Some(url) = self.client_metadata_url.as_deref()
                && !url.is_empty()
                && !is_metadata_url(url)
            {
                return Err((
                    "client_metadata_url".into(),
                    "a Client ID Metadata Document's URL: https:// with a path, no fragment".into(),
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

/// Whether `url` can be a client id (Client ID Metadata Documents): an
/// `https://` URL with a path, without a fragment or credentials.
fn is_metadata_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let Some((authority, path)) = rest.split_once('/') else {
        return false;
    };
    !authority.is_empty() && !authority.contains('@') && !path.is_empty() && !url.contains('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(auth: UpstreamAuth) -> UpstreamAuth {
        UpstreamAuth {
            grant: Grant::AuthorizationCode,
            redirect_uri: Some("https://sb.example.com/connect/callback".into()),
            ..auth
        }
    }

    #[test]
    fn a_discovering_sign_in_needs_no_client_id() {
        assert_eq!(code(UpstreamAuth::default()).validate(), Ok(()));
        let configured = code(UpstreamAuth {
            token_endpoint: "https://as.example.com/token".into(),
            authorization_endpoint: Some("https://as.example.com/authorize".into()),
            ..UpstreamAuth::default()
        });
        assert_eq!(configured.validate().unwrap_err().0, "client_id");
        let exchange = UpstreamAuth {
            token_endpoint: "https://as.example.com/token".into(),
            ..UpstreamAuth::default()
        };
        assert_eq!(exchange.validate().unwrap_err().0, "client_id");
    }

    #[test]
    fn a_secret_goes_only_to_a_named_server_unless_trusted() {
        let secret = code(UpstreamAuth {
            client_id: "sb".into(),
            client_secret: Some("s".into()),
            ..UpstreamAuth::default()
        });
        assert_eq!(secret.clone().validate().unwrap_err().0, "issuer");
        let trusted = UpstreamAuth {
            trust_upstream_issuer: true,
            ..secret
        };
        assert_eq!(trusted.validate(), Ok(()));
        let orphan = code(UpstreamAuth {
            client_secret: Some("s".into()),
            trust_upstream_issuer: true,
            ..UpstreamAuth::default()
        });
        assert_eq!(orphan.validate().unwrap_err().0, "client_secret");
        // A service identity's server is discovered by the same rule, and
        // it needs its client id.
        let service = UpstreamAuth {
            grant: Grant::ClientCredentials,
            client_id: "svc".into(),
            client_secret: Some("s".into()),
            ..UpstreamAuth::default()
        };
        assert_eq!(service.clone().validate().unwrap_err().0, "issuer");
        let named = UpstreamAuth {
            issuer: Some("https://as.example".into()),
            ..service.clone()
        };
        assert_eq!(named.validate(), Ok(()));
        let nobody = UpstreamAuth {
            client_id: String::new(),
            client_secret: None,
            ..service
        };
        assert_eq!(nobody.validate().unwrap_err().0, "client_id");
    }

    #[test]
    fn the_metadata_document_is_beside_an_https_callback() {
        let auth = code(UpstreamAuth::default());
        assert_eq!(
            auth.client_metadata_url().as_deref(),
            Some("https://sb.example.com/connect/client-metadata.json")
        );
        let http = UpstreamAuth {
            redirect_uri: Some("http://127.0.0.1:8080/connect/callback".into()),
            ..auth.clone()
        };
        assert_eq!(http.client_metadata_url(), None);
        let off = UpstreamAuth {
            client_metadata_url: Some(String::new()),
            ..auth.clone()
        };
        assert_eq!(off.client_metadata_url(), None);
        for bad in [
            "http://x.example/c.json",
            "https://x.example",
            "https://x.example/c#f",
        ] {
            let bad = UpstreamAuth {
                client_metadata_url: Some(bad.into()),
                ..auth.clone()
            };
            assert_eq!(bad.validate().unwrap_err().0, "client_metadata_url");
        }
        let named = UpstreamAuth {
            client_metadata_url: Some("https://x.example/client.json".into()),
            ..auth
        };
        assert_eq!(named.validate(), Ok(()));
        assert_eq!(
            named.client_metadata_url().as_deref(),
            Some("https://x.example/client.json")
        );
    }
}
