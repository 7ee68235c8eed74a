//! Virtual servers' endpoints (`[[servers]]`): `/mcp/<name>` (and its
//! 2024-11-05 pair `/mcp/<name>/sse`, `/mcp/<name>/messages`), or `/mcp`
//! on a host a server names. The handlers take an [`Arrival`]: the
//! client's address and the server the request came to (404 for a name
//! no server has), and authenticate there (`Gate::authenticate_at`),
//! which narrows the principal to the server. A request to `/mcp` on a
//! node without host-chosen servers costs one glance at the tenants.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use switchboard_http::PeerAddr;
use switchboard_http::error::TransportError;
use switchboard_tenancy::{Gate, VirtualServer};

/// Where a request comes from (the client's address) and which endpoint
/// it came to.
#[derive(Debug)]
pub(crate) struct Arrival {
    /// The client's address (`switchboard_http::client::identity`).
    pub(crate) client: String,
    /// The virtual server, if the request came to one.
    pub(crate) server: Option<Arc<VirtualServer>>,
    /// The request's method and URI (what a DPoP proof names); clones
    /// that share the request's buffers, no copy.
    method: http::Method,
    uri: http::Uri,
}

impl FromRequestParts<crate::Fronts> for Arrival {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        fronts: &crate::Fronts,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<PeerAddr>()
            .cloned()
            .map(axum::Extension);
        Ok(Self {
            client: switchboard_http::client::identity(peer),
            server: select(fronts.gate(), parts).map_err(IntoResponse::into_response)?,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
        })
    }
}

impl Arrival {
    /// Who sends the request, at this endpoint.
    pub(crate) async fn authenticate(
        &self,
        gate: &Gate,
        headers: &http::HeaderMap,
    ) -> Result<switchboard_tenancy::Principal, TransportError> {
        let request = Some((self.method.as_str(), self.uri.path()));
        gate.authenticate_at(headers, &self.client, self.server.as_ref(), request)
            .await
    }
}

/// The server named by a path below `/mcp/`: `<name>`, `<name>/sse` or
/// `<name>/messages`.
fn named(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/mcp/")?;
    let name = rest
        .strip_suffix("/sse")
        .or_else(|| rest.strip_suffix("/messages"))
        .unwrap_or(rest);
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// The virtual server of a request: the one `/mcp/<name>` names (404 if
/// none has that name), or, for `/mcp`, the one naming the request's host.
fn select(gate: &Gate, parts: &Parts) -> Result<Option<Arc<VirtualServer>>, TransportError> {
    let path = parts.uri.path();
    if let Some(name) = named(path) {
        return match gate.tenants().server(name) {
            Some(s) => Ok(Some(s.clone())),
            None => Err(TransportError::UnknownServer(name.to_owned())),
        };
    }
    Ok(gate.live_tenants().peek(|t| {
        if !t.has_host_servers() {
            return None;
        }
        host(parts).and_then(|h| t.server_for_host(h).cloned())
    }))
}

/// The request's host, without a port.
fn host(parts: &Parts) -> Option<&str> {
    let host = parts.headers.get(http::header::HOST)?.to_str().ok()?;
    Some(match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_name_their_server() {
        assert_eq!(super::named("/mcp/dev"), Some("dev"));
        assert_eq!(super::named("/mcp/dev/sse"), Some("dev"));
        assert_eq!(super::named("/mcp/dev/messages"), Some("dev"));
        assert_eq!(super::named("/mcp"), None);
        assert_eq!(super::named("/mcp/"), None);
        assert_eq!(super::named("/mcp/a/b"), None);
    }
}
