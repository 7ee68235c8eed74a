//! Client ID Metadata Documents: a client whose id is an `https://` URL is
//! described by the JSON document at that URL. Fetched with a time and
//! size limit, no redirects, and never from a private, loopback or
//! link-local address unless allowed (the address checked is the one
//! connected to, so a name cannot be re-resolved elsewhere); kept for a
//! while.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Deserialize;
use url::Url;

use crate::client::{AuthMethod, Client};
use crate::config::ClientMetadataConfig;
use crate::error::OAuthError;

/// Documents kept at most.
const MAX_CACHED: usize = 1024;

/// The fields of a document used here; others are ignored.
#[derive(Deserialize)]
struct Document {
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    redirect_uris: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
}

/// Fetches and keeps documents.
#[derive(Debug)]
pub(crate) struct Documents {
    config: ClientMetadataConfig,
    cache: Mutex<HashMap<String, (Instant, Arc<Client>)>>,
}

impl Documents {
    pub(crate) fn new(config: ClientMetadataConfig) -> Self {
        Self {
            config,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `client_id` names a document (and documents are on).
    pub(crate) fn names_document(&self, client_id: &str) -> bool {
        self.config.enabled
            && (client_id.starts_with("https://")
                || (self.config.allow_http && client_id.starts_with("http://")))
    }

    /// The client `url` describes.
    pub(crate) async fn client(&self, url: &str) -> Result<Arc<Client>, OAuthError> {
        if let Some((at, c)) = self.cache.lock().get(url)
            && at.elapsed() < Duration::from_secs(self.config.cache_secs)
        {
            return Ok(c.clone());
        }
        let client = Arc::new(self.fetch(url).await?);
        let mut cache = self.cache.lock();
        if cache.len() >= MAX_CACHED {
            let ttl = Duration::from_secs(self.config.cache_secs);
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(url.to_owned(), (Instant::now(), client.clone()));
        Ok(client)
    }

    async fn fetch(&self, id: &str) -> Result<Client, OAuthError> {
        let bad = |why: String| OAuthError::client(format!("client metadata document {id}: {why}"));
        let url = self.check_url(id).map_err(|w| bad(w.into()))?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let addrs = tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), port)))
            .await
            .map_err(|_| bad("name lookup timed out".into()))?
            .map_err(|_| bad("the host name does not resolve".into()))?
            .collect::<Vec<SocketAddr>>();
        if addrs.is_empty() {
            return Err(bad("the host name does not resolve".into()));
        }
        if !self.config.allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(bad("the host is on a private or local address".into()));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| bad(format!("HTTP client: {e}")))?;
        let (status, body) = crate::fetch::answer(http.get(url.clone()), self.config.max_bytes)
            .await
            .map_err(bad)?;
        if !status.is_success() {
            return Err(bad(format!("answered {}", status.as_u16())));
        }
        let doc: Document =
            serde_json::from_slice(&body).map_err(|e| bad(format!("not a valid document: {e}")))?;
        client_of(doc, id).map_err(|w| bad(w.into()))
    }

    /// A client id a document may be fetched for: `https://` (or `http://`
    /// where allowed), a path, no fragment, user info or dot segments.
    fn check_url(&self, id: &str) -> Result<Url, &'static str> {
        if id.len() > crate::urls::MAX_REDIRECT_URI {
            return Err("too long");
        }
        let url = Url::parse(id).map_err(|_| "not a URL")?;
        let scheme_ok =
            url.scheme() == "https" || (self.config.allow_http && url.scheme() == "http");
        if !scheme_ok || url.host_str().is_none() {
            return Err("must be an https:// URL");
        }
        if url.path() == "/" || url.fragment().is_some() || !url.username().is_empty() {
            return Err("must have a path, and no fragment or user info");
        }
        if id.contains("/./") || id.contains("/../") || url.as_str() != id {
            return Err("must be in normal form");
        }
        Ok(url)
    }
}

/// The client a document describes, checked.
fn client_of(doc: Document, id: &str) -> Result<Client, &'static str> {
    if doc.client_id != id {
        return Err("its client_id is not its own URL");
    }
    if doc.redirect_uris.is_empty() || doc.redirect_uris.len() > 20 {
        return Err("needs 1-20 redirect_uris");
    }
    if doc
        .redirect_uris
        .iter()
        .any(|u| crate::urls::redirect_uri(u).is_err())
    {
        return Err("has a redirect URI that is not allowed");
    }
    match doc.token_endpoint_auth_method.as_deref() {
        None | Some("none") => {}
        Some(_) => return Err("only token_endpoint_auth_method \"none\" is supported"),
    }
    let refresh = doc
        .grant_types
        .as_ref()
        .is_none_or(|g| g.iter().any(|g| g == "refresh_token"));
    Ok(Client {
        id: id.to_owned(),
        name: doc
            .client_name
            .map(|n| n.chars().take(100).collect())
            .unwrap_or_else(|| id.to_owned()),
        redirect_uris: doc.redirect_uris,
        auth: AuthMethod::None,
        refresh,
        from_document: true,
    })
}

/// Whether `ip` is a public unicast address.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            let o = v6.octets();
            let v4 = |a: usize| std::net::Ipv4Addr::new(o[a], o[a + 1], o[a + 2], o[a + 3]);
            // Addresses that embed an IPv4 one: mapped (::ffff:a.b.c.d),
            // compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4
            // (2002::/16) are judged by it.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            if seg[..6] == [0; 6] || seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public(IpAddr::V4(v4(12)));
            }
            if seg[0] == 0x2002 {
                return is_public(IpAddr::V4(v4(2)));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || v6.segments()[0] == 0x2001 && v6.segments()[1] == 0xdb8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a}");
        }
        for a in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn document_urls() {
        let d = Documents::new(ClientMetadataConfig::default());
        assert!(d.check_url("https://app.example.com/client.json").is_ok());
        assert!(d.check_url("https://app.example.com").is_err());
        assert!(d.check_url("http://app.example.com/c.json").is_err());
        assert!(d.check_url("https://u@app.example.com/c.json").is_err());
        assert!(d.check_url("https://app.example.com/a/../c.json").is_err());
        assert!(d.check_url("https://app.example.com/c.json#x").is_err());
    }
}
