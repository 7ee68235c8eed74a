//! Which client Switchboard signs users in as, in the order MCP's
//! authorization rules give: the one configured (registered in advance),
//! else its Client ID Metadata Document's URL where the server takes those
//! (`client_id_metadata_document_supported`), else one registered
//! dynamically (RFC 7591) — once per server, kept sealed in the vault for
//! every node, and never presented to another server (SEP-2352: a client
//! is the server's that issued it).
//!
//! A client with a secret authenticates as the server's metadata offers:
//! HTTP Basic where it may (`client_secret_basic`, the default of RFC
//! 8414 §2), else in the form (`client_secret_post`); a registration asks
//! for the first of those two and `none` the server lists.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Identity;
use crate::discover::{Found, Server};
use crate::endpoint::{AuthMethod, ClientAuth};
use crate::error::IdentityError;

/// The vault's "tenant" for registered clients (not a valid tenant id).
const CLIENTS: &str = "\u{1}clients";

/// The name Switchboard registers under.
const CLIENT_NAME: &str = "Switchboard";

/// A registration as the vault keeps it (`Debug` shows no secret).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Registered {
    client: ClientAuth,
    /// The redirect URI registered (a changed one registers again).
    redirect_uri: String,
    /// When its secret expires (Unix seconds); none: never.
    #[serde(default)]
    expires_at: Option<u64>,
}

impl Registered {
    fn usable(&self, redirect_uri: &str) -> bool {
        self.redirect_uri == redirect_uri
            && self
                .expires_at
                .is_none_or(|at| at > unix_now() + Duration::from_secs(60).as_secs())
    }
}

/// The server's token endpoint authentication methods (RFC 8414 §2:
/// `client_secret_basic` when it does not say).
fn methods(server: Option<&Server>) -> Vec<String> {
    server
        .and_then(|s| s.token_endpoint_auth_methods_supported.clone())
        .unwrap_or_else(|| vec!["client_secret_basic".into()])
}

/// How a client with a secret authenticates at `server`.
fn secret_method(server: Option<&Server>) -> AuthMethod {
    let offered = methods(server);
    let has = |m: AuthMethod| offered.iter().any(|o| o == m.name());
    if !has(AuthMethod::Basic) && has(AuthMethod::Post) {
        AuthMethod::Post
    } else {
        AuthMethod::Basic
    }
}

/// The method a registration asks for: the first of basic, post and none
/// the server offers.
fn registration_method(server: &Server) -> Option<AuthMethod> {
    let offered = methods(Some(server));
    [AuthMethod::Basic, AuthMethod::Post, AuthMethod::None]
        .into_iter()
        .find(|m| offered.iter().any(|o| o == m.name()))
}

/// `native` for a redirect to this machine (`http://127.0.0.1`,
/// `localhost`, `[::1]`), else `web` (OpenID Connect Registration §2,
/// SEP-837).
fn application_type(redirect_uri: &str) -> &'static str {
    let host = reqwest::Url::parse(redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    if matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
        "native"
    } else {
        "web"
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn unavailable(reason: String) -> IdentityError {
    IdentityError::Unavailable {
        upstream: String::new(),
        reason,
    }
}

impl Identity {
    /// The client to sign users in as at the server `found` names.
    pub(crate) async fn client(&self, found: &Found) -> Result<ClientAuth, IdentityError> {
        let server = found.server.as_ref();
        if !self.auth.client_id.is_empty() {
            let mut client = ClientAuth::configured(&self.auth);
            if client.secret.is_some() {
                client.method = secret_method(server);
            }
            return Ok(client);
        }
        let server = server.ok_or_else(|| {
            unavailable(
                "no client_id, and no authorization server metadata to register with".into(),
            )
        })?;
        if server.client_id_metadata_document_supported
            && let Some(url) = self.auth.client_metadata_url()
        {
            return Ok(ClientAuth {
                id: url,
                secret: None,
                method: AuthMethod::None,
            });
        }
        let Some(endpoint) = server.registration_endpoint.as_deref() else {
            return Err(unavailable(format!(
                "the authorization server {} takes no Client ID Metadata Document{} and offers no dynamic registration: configure a client_id registered there",
                server.issuer,
                if self.auth.client_metadata_url().is_none() {
                    " (none is configured)"
                } else {
                    ""
                }
            )));
        };
        self.registered(server, endpoint).await
    }

    /// The client registered at `server` (registered now if there is none
    /// yet, or its secret expired, or the redirect URI changed).
    async fn registered(
        &self,
        server: &Server,
        endpoint: &str,
    ) -> Result<ClientAuth, IdentityError> {
        let redirect_uri = self.auth.redirect_uri.clone().unwrap_or_default();
        let lane = self.vault.as_ref().map_or("", |(_, lane)| lane.as_str());
        let name = format!("client\0{}\0{lane}\0{}", self.upstream, server.issuer);
        // One registration at a time (per credential set).
        let mut known = self.clients.lock().await;
        if let Some(found) = known.get(&server.issuer)
            && found.usable(&redirect_uri)
        {
            return Ok(found.client.clone());
        }
        if let Some((vault, _)) = &self.vault
            && let Ok(Some(bytes)) = vault.get(CLIENTS, &name).await
            && let Ok(kept) = serde_json::from_slice::<Registered>(&bytes)
            && kept.usable(&redirect_uri)
        {
            let client = kept.client.clone();
            known.insert(server.issuer.clone(), kept);
            return Ok(client);
        }
        let method = registration_method(server).ok_or_else(|| {
            unavailable(format!(
                "the authorization server {} offers no token endpoint authentication Switchboard can use ({})",
                server.issuer,
                methods(Some(server)).join(", ")
            ))
        })?;
        let metadata = json!({
            "client_name": CLIENT_NAME,
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": method.name(),
            "application_type": application_type(&redirect_uri),
        });
        let answer = self.endpoint.register(endpoint, &metadata).await?;
        let id = answer["client_id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| unavailable("a registration answer without a client_id".into()))?;
        let secret = answer["client_secret"].as_str().map(str::to_owned);
        let method = answer["token_endpoint_auth_method"]
            .as_str()
            .and_then(AuthMethod::from_name)
            .unwrap_or(method);
        let method = match (method, &secret) {
            (AuthMethod::Basic | AuthMethod::Post, None) => AuthMethod::None,
            (m, _) => m,
        };
        let expires_at = answer["client_secret_expires_at"]
            .as_u64()
            .filter(|at| *at > 0);
        let registered = Registered {
            client: ClientAuth {
                id: id.to_owned(),
                secret,
                method,
            },
            redirect_uri,
            expires_at,
        };
        tracing::info!(
            upstream = %self.upstream,
            issuer = %server.issuer,
            client_id = %id,
            method = method.name(),
            "registered with the upstream's authorization server"
        );
        if let Some((vault, _)) = &self.vault
            && let Ok(bytes) = serde_json::to_vec(&registered)
            && let Err(e) = vault.put(CLIENTS, &name, &bytes).await
        {
            tracing::warn!(upstream = %self.upstream, error = %e, "the vault cannot keep the registration");
        }
        let client = registered.client.clone();
        known.insert(server.issuer.clone(), registered);
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(methods: Option<&[&str]>) -> Server {
        serde_json::from_value(json!({
            "issuer": "https://as.example.com",
            "authorization_endpoint": "https://as.example.com/authorize",
            "token_endpoint": "https://as.example.com/token",
            "token_endpoint_auth_methods_supported": methods,
        }))
        .unwrap()
    }

    #[test]
    fn a_secret_goes_as_the_server_offers() {
        assert_eq!(secret_method(None), AuthMethod::Basic);
        assert_eq!(secret_method(Some(&server(None))), AuthMethod::Basic);
        let post = server(Some(&["client_secret_post"]));
        assert_eq!(secret_method(Some(&post)), AuthMethod::Post);
        let both = server(Some(&["client_secret_post", "client_secret_basic"]));
        assert_eq!(secret_method(Some(&both)), AuthMethod::Basic);
    }

    #[test]
    fn a_registration_asks_for_what_the_server_offers() {
        let m = |offered| registration_method(&server(offered));
        assert_eq!(m(None), Some(AuthMethod::Basic));
        assert_eq!(m(Some(&["none"])), Some(AuthMethod::None));
        assert_eq!(m(Some(&["client_secret_post"])), Some(AuthMethod::Post));
        assert_eq!(m(Some(&["private_key_jwt"])), None);
        assert_eq!(
            application_type("http://127.0.0.1:8080/connect/callback"),
            "native"
        );
        assert_eq!(
            application_type("https://sb.example.com/connect/callback"),
            "web"
        );
    }
}
