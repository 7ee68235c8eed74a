//! Finding an authorization server: its metadata (RFC 8414, or OpenID
//! Connect discovery, at each well-known location MCP's authorization
//! rules name, in their order) from its issuer — configured, or the first
//! the upstream's protected-resource metadata (RFC 9728) names, found as an
//! MCP client finds it: the `resource_metadata` of the `WWW-Authenticate`
//! of a request sent without credentials, else the path-based well-known
//! location, else the root one. The metadata must name the issuer its
//! well-known URL was made from (RFC 8414 §3.3: identical), the
//! protected-resource metadata a resource this upstream is under (RFC 9728
//! §3.3), and the server must offer PKCE with S256.

use reqwest::Url;
use serde::Deserialize;

use crate::challenge::Challenge;
use crate::config::{Grant, UpstreamAuth};
use crate::endpoint::Endpoint;
use crate::error::IdentityError;

#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    authorization_servers: Vec<String>,
    #[serde(default)]
    scopes_supported: Option<Vec<String>>,
}

/// An authorization server's metadata: what a sign-in uses of it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Server {
    pub(crate) issuer: String,
    /// None for a server that only issues service tokens.
    #[serde(default)]
    pub(crate) authorization_endpoint: String,
    pub(crate) token_endpoint: String,
    #[serde(default)]
    pub(crate) registration_endpoint: Option<String>,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
    /// RFC 8414 §2: `client_secret_basic` when absent.
    #[serde(default)]
    pub(crate) token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) scopes_supported: Option<Vec<String>>,
    /// RFC 9207 §3: it sends `iss` in its authorization responses.
    #[serde(default)]
    pub(crate) authorization_response_iss_parameter_supported: bool,
    /// It takes Client ID Metadata Documents' URLs as client ids.
    #[serde(default)]
    pub(crate) client_id_metadata_document_supported: bool,
    /// RFC 9449 §5.1: the algorithms it takes DPoP proofs in.
    #[serde(default)]
    pub(crate) dpop_signing_alg_values_supported: Option<Vec<String>>,
}

/// What discovery found.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// The settings with the endpoints filled in.
    pub(crate) auth: UpstreamAuth,
    /// The server's metadata, when it was read.
    pub(crate) server: Option<Server>,
    /// The resource the upstream's metadata names (the `resource` sent,
    /// RFC 8707, unless one is configured).
    pub(crate) resource: Option<String>,
    /// The scopes the upstream asks for: its challenge's `scope`, else its
    /// metadata's `scopes_supported` (MCP's scope selection strategy).
    pub(crate) scopes: Vec<String>,
}

impl Found {
    /// The settings as configured, with nothing discovered.
    pub(crate) fn configured(auth: &UpstreamAuth) -> Self {
        Self {
            auth: auth.clone(),
            server: None,
            resource: None,
            scopes: Vec::new(),
        }
    }
}

/// Discover what `auth` does not name.
pub(crate) async fn endpoints(
    endpoint: &Endpoint,
    auth: &UpstreamAuth,
    upstream_url: Option<&str>,
) -> Result<Found, IdentityError> {
    let (issuer, resource, scopes, strict) = match &auth.issuer {
        Some(issuer) => (issuer.clone(), None, Vec::new(), false),
        None => {
            let url = upstream_url.ok_or_else(|| failed("no upstream URL to ask"))?;
            let (resource, issuer, scopes) = protected_resource(endpoint, url).await?;
            (issuer, Some(resource), scopes, true)
        }
    };
    let sign_in = auth.grant == Grant::AuthorizationCode;
    let server = metadata(endpoint, &issuer, strict, sign_in).await?;
    let mut found = auth.clone();
    found.authorization_endpoint = Some(server.authorization_endpoint.clone());
    found.token_endpoint = server.token_endpoint.clone();
    if !sign_in {
        // A service token is asked for the upstream's resource and scopes
        // (RFC 8707, MCP's scope selection), unless configured.
        found.resource = found.resource.or_else(|| resource.clone());
        if found.scopes.is_empty() {
            found.scopes = scopes.clone();
        }
    }
    Ok(Found {
        auth: found,
        server: Some(server),
        resource,
        scopes,
    })
}

/// The upstream's protected-resource metadata: its resource, its first
/// authorization server, and the scopes to ask for.
async fn protected_resource(
    endpoint: &Endpoint,
    url: &str,
) -> Result<(String, String, Vec<String>), IdentityError> {
    let challenge = endpoint
        .challenge(url)
        .await
        .and_then(|h| Challenge::parse(&h))
        .unwrap_or_default();
    let document: Resource = match &challenge.resource_metadata {
        Some(at) => endpoint.get_json(at).await?,
        None => {
            let mut found = None;
            for at in resource_metadata_urls(url)? {
                if let Ok(document) = endpoint.try_json::<Resource>(&at).await? {
                    found = Some(document);
                    break;
                }
            }
            found.ok_or_else(|| failed("the upstream publishes no protected-resource metadata"))?
        }
    };
    let resource = document
        .resource
        .filter(|r| !r.is_empty())
        .ok_or_else(|| failed("the upstream's protected-resource metadata names no resource"))?;
    if !resource_covers(&resource, url) {
        return Err(failed(&format!(
            "the upstream's protected-resource metadata is for {resource}, not for this upstream"
        )));
    }
    let issuer = document
        .authorization_servers
        .into_iter()
        .next()
        .ok_or_else(|| failed("the upstream's metadata names no authorization server"))?;
    let scopes = if challenge.scope.is_empty() {
        document.scopes_supported.unwrap_or_default()
    } else {
        challenge.scope
    };
    Ok((resource, issuer, scopes))
}

/// The issuer's metadata, from the first well-known location that has it.
/// `strict`: its `issuer` must be identical to `issuer` (RFC 8414 §3.3);
/// else (an issuer the configuration names) a trailing `/` aside.
/// `sign_in`: users sign in there, so it must have an authorization
/// endpoint and offer PKCE S256.
async fn metadata(
    endpoint: &Endpoint,
    issuer: &str,
    strict: bool,
    sign_in: bool,
) -> Result<Server, IdentityError> {
    let mut last = None;
    let mut server = None;
    for url in metadata_urls(issuer)? {
        match endpoint.try_json::<Server>(&url).await {
            Ok(Ok(found)) => {
                server = Some(found);
                break;
            }
            Ok(Err(status)) => last = Some(failed(&format!("{url} answered HTTP {status}"))),
            Err(e) => last = Some(e),
        }
    }
    let server = server.ok_or_else(|| {
        last.unwrap_or_else(|| failed("the authorization server publishes no metadata"))
    })?;
    let same = if strict {
        server.issuer == issuer
    } else {
        server.issuer.trim_end_matches('/') == issuer.trim_end_matches('/')
    };
    if !same {
        return Err(failed(
            "the authorization server's metadata names another issuer",
        ));
    }
    if sign_in && server.authorization_endpoint.is_empty() {
        return Err(failed(
            "the authorization server's metadata names no authorization endpoint",
        ));
    }
    if sign_in
        && !server
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
    {
        return Err(failed(
            "the authorization server does not offer PKCE with S256",
        ));
    }
    Ok(server)
}

/// Where an issuer's metadata may be, in order (MCP authorization,
/// "Authorization Server Metadata Discovery"): for an issuer with a path,
/// RFC 8414's path insertion, OpenID Connect's path insertion, then its
/// path appending; for one without, RFC 8414's, then OpenID Connect's.
fn metadata_urls(issuer: &str) -> Result<Vec<String>, IdentityError> {
    let (origin, path) = split(issuer)?;
    Ok(if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    })
}

/// Where an upstream's protected-resource metadata may be (RFC 9728
/// §3.1), in order: with the upstream's path inserted, then at the root.
fn resource_metadata_urls(url: &str) -> Result<Vec<String>, IdentityError> {
    let (origin, path) = split(url)?;
    let root = format!("{origin}/.well-known/oauth-protected-resource");
    Ok(if path.is_empty() {
        vec![root]
    } else {
        vec![format!("{root}{path}"), root]
    })
}

/// `(scheme://authority, path without a trailing /)` of an http(s) URL
/// without a query or fragment.
fn split(url: &str) -> Result<(String, String), IdentityError> {
    let parsed = Url::parse(url).map_err(|_| failed("not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(failed("not an http(s) URL"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(failed("an issuer or resource with a query or fragment"));
    }
    let origin = parsed.origin().ascii_serialization();
    Ok((origin, parsed.path().trim_end_matches('/').to_owned()))
}

/// Whether a protected-resource metadata's `resource` is the upstream's
/// URL or one it is under: the same origin, and a path that is the
/// upstream's or one of its leading segments (RFC 8707 §2 lets a resource
/// be the more general one).
pub(crate) fn resource_covers(resource: &str, url: &str) -> bool {
    let (Ok(r), Ok(u)) = (Url::parse(resource), Url::parse(url)) else {
        return false;
    };
    if r.origin() != u.origin() || r.fragment().is_some() {
        return false;
    }
    let (rp, up) = (
        r.path().trim_end_matches('/'),
        u.path().trim_end_matches('/'),
    );
    up == rp
        || up
            .strip_prefix(rp)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn failed(reason: &str) -> IdentityError {
    IdentityError::Unavailable {
        upstream: String::new(),
        reason: format!("cannot discover the authorization server: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_locations_in_mcp_s_order() {
        assert_eq!(
            metadata_urls("https://as.example.com").unwrap(),
            [
                "https://as.example.com/.well-known/oauth-authorization-server",
                "https://as.example.com/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            metadata_urls("https://as.example.com/tenant1/").unwrap(),
            [
                "https://as.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://as.example.com/.well-known/openid-configuration/tenant1",
                "https://as.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        assert!(metadata_urls("https://as.example.com/?x=1").is_err());
    }

    #[test]
    fn resource_metadata_path_based_then_root() {
        assert_eq!(
            resource_metadata_urls("http://localhost:3000/mcp").unwrap(),
            [
                "http://localhost:3000/.well-known/oauth-protected-resource/mcp",
                "http://localhost:3000/.well-known/oauth-protected-resource",
            ]
        );
        assert_eq!(
            resource_metadata_urls("http://localhost:3000/").unwrap(),
            ["http://localhost:3000/.well-known/oauth-protected-resource"]
        );
    }

    #[test]
    fn a_resource_covers_its_own_url_and_those_under_it() {
        let url = "http://localhost:3000/mcp";
        assert!(resource_covers("http://localhost:3000/mcp", url));
        assert!(resource_covers("http://localhost:3000/mcp/", url));
        assert!(resource_covers("http://localhost:3000", url));
        assert!(resource_covers("http://localhost:3000/", url));
        assert!(!resource_covers("https://evil.example.com/mcp", url));
        assert!(!resource_covers("http://localhost:3001/mcp", url));
        assert!(!resource_covers("https://localhost:3000/mcp", url));
        assert!(!resource_covers("http://localhost:3000/mc", url));
        assert!(!resource_covers("http://localhost:3000/mcp/sub", url));
        assert!(!resource_covers("not a url", url));
    }
}
