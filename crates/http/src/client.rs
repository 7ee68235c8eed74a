//! Who a client is before authentication: the address of its connection,
//! put in every request's extensions by the accept loop, or copied there
//! from axum's `ConnectInfo` when an app of its own serves the router.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};

/// The remote address of the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Who a client is before authentication: its IP address (`unknown` when
/// no address came with the request: neither the accept loop nor
/// [`peer_from_connect_info`] put one there).
pub fn identity(peer: Option<axum::Extension<PeerAddr>>) -> String {
    peer.map_or_else(
        || "unknown".to_owned(),
        |axum::Extension(p)| p.0.ip().to_string(),
    )
}

/// For a router served by an axum app rather than the accept loop: the
/// address axum records when the app serves it with
/// `into_make_service_with_connect_info::<SocketAddr>()` becomes the
/// request's [`PeerAddr`] (one it already has is kept). A request without
/// either passes unchanged. For `axum::middleware::map_request`.
pub async fn peer_from_connect_info(mut req: Request) -> Request {
    if req.extensions().get::<PeerAddr>().is_none()
        && let Some(&ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>()
    {
        req.extensions_mut().insert(PeerAddr(addr));
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    async fn peer_of(req: Request) -> Option<SocketAddr> {
        let req = peer_from_connect_info(req).await;
        req.extensions().get::<PeerAddr>().map(|p| p.0)
    }

    #[tokio::test]
    async fn connect_info_becomes_the_peer_address_unless_one_is_there() {
        let mut req = Request::new(axum::body::Body::empty());
        assert_eq!(peer_of(req).await, None, "nothing to copy");

        req = Request::new(axum::body::Body::empty());
        req.extensions_mut()
            .insert(ConnectInfo(addr("127.0.0.2:5000")));
        assert_eq!(peer_of(req).await, Some(addr("127.0.0.2:5000")));

        req = Request::new(axum::body::Body::empty());
        req.extensions_mut()
            .insert(ConnectInfo(addr("127.0.0.2:5000")));
        req.extensions_mut().insert(PeerAddr(addr("10.0.0.1:1")));
        assert_eq!(peer_of(req).await, Some(addr("10.0.0.1:1")), "kept");
    }
}
