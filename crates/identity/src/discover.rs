//! Finding an authorization server's endpoints: its metadata (RFC 8414,
//! or OpenID Connect discovery), from its issuer — configured, or the
//! first authorization server the upstream's protected-resource metadata
//! names (RFC 9728). The server must support PKCE with S256 (MCP's
//! authorization rules), and its metadata must name the issuer asked for.

use reqwest::Url;
use serde::Deserialize;

use crate::config::UpstreamAuth;
use crate::endpoint::Endpoint;
use crate::error::IdentityError;

#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    authorization_servers: Vec<String>,
}

#[derive(Deserialize)]
struct Server {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
}

/// `auth` with its endpoints filled in.
pub(crate) async fn endpoints(
    endpoint: &Endpoint,
    auth: &UpstreamAuth,
    upstream_url: Option<&str>,
) -> Result<UpstreamAuth, IdentityError> {
    let issuer = match &auth.issuer {
        Some(issuer) => issuer.clone(),
        None => {
            let url = upstream_url.ok_or_else(|| failed("no upstream URL to ask"))?;
            let resource: Resource = endpoint
                .get_json(&well_known(url, "oauth-protected-resource")?)
                .await?;
            resource
                .authorization_servers
                .into_iter()
                .next()
                .ok_or_else(|| failed("the upstream's metadata names no authorization server"))?
        }
    };
    let server: Server = match endpoint
        .get_json(&well_known(&issuer, "oauth-authorization-server")?)
        .await
    {
        Ok(server) => server,
        Err(_) => {
            let openid = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            endpoint.get_json(&openid).await?
        }
    };
    if server.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(failed(
            "the authorization server's metadata names another issuer",
        ));
    }
    if !server
        .code_challenge_methods_supported
        .iter()
        .any(|m| m == "S256")
    {
        return Err(failed(
            "the authorization server does not offer PKCE with S256",
        ));
    }
    let mut found = auth.clone();
    found.authorization_endpoint = Some(server.authorization_endpoint);
    found.token_endpoint = server.token_endpoint;
    Ok(found)
}

/// `https://host/.well-known/<name>/path` for `https://host/path`.
fn well_known(url: &str, name: &str) -> Result<String, IdentityError> {
    let parsed = Url::parse(url).map_err(|_| failed("not a URL"))?;
    let path = parsed.path().trim_end_matches('/');
    let mut base = parsed.clone();
    base.set_path("");
    base.set_query(None);
    Ok(format!(
        "{}/.well-known/{name}{path}",
        base.as_str().trim_end_matches('/')
    ))
}

fn failed(reason: &str) -> IdentityError {
    IdentityError::Unavailable {
        upstream: String::new(),
        reason: format!("cannot discover the authorization server: {reason}"),
    }
}
