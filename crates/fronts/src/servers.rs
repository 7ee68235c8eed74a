//! Virtual servers' endpoints (`[[servers]]`): `/mcp/<name>` (and its
//! 2024-11-05 pair `/mcp/<name>/sse`, `/mcp/<name>/messages`), or `/mcp`
//! on a host a server names. [`select`] finds the server a request came
//! to before any handler runs; the handlers take it with the client's
//! address as an [`Arrival`] and authenticate there
//! (`Gate::authenticate_at`), which narrows the principal to the server.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use switchboard_http::PeerAddr;
use switchboard_http::error::TransportError;
use switchboard_tenancy::{Gate, VirtualServer};

/// The virtual server a request came to, as [`select`] found it.
#[derive(Debug, Clone)]
struct At(Arc<VirtualServer>);

/// Where a request comes from (the client's address) and which endpoint
/// it came to.
#[derive(Debug)]
pub(crate) struct Arrival {
    /// The client's address (`switchboard_http::client::identity`).
    pub(crate) client: String,
    /// The virtual server, if the request came to one.
    pub(crate) server: Option<Arc<VirtualServer>>,
}

impl<S: Send + Sync> FromRequestParts<S> for Arrival {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<PeerAddr>()
            .cloned()
            .map(axum::Extension);
        Ok(Self {
            client: switchboard_http::client::identity(peer),
            server: parts.extensions.get::<At>().map(|at| at.0.clone()),
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
        gate.authenticate_at(headers, &self.client, self.server.as_ref())
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

/// Find the virtual server of a request: the one `/mcp/<name>` names
/// (404 if none has that name), or, for `/mcp`, the one naming the
/// request's host.
pub(crate) async fn select(State(gate): State<Gate>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let server = if let Some(name) = named(path) {
        match gate.tenants().server(name) {
            Some(s) => Some(s.clone()),
            None => return TransportError::UnknownServer(name.to_owned()).into_response(),
        }
    } else if path == "/mcp" || path == "/sse" || path == "/messages" {
        host(&req).and_then(|h| gate.tenants().server_for_host(h).cloned())
    } else {
        None
    };
    if let Some(s) = server {
        req.extensions_mut().insert(At(s));
    }
    next.run(req).await
}

/// The request's host, without a port.
fn host(req: &Request) -> Option<&str> {
    let host = req.headers().get(http::header::HOST)?.to_str().ok()?;
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
