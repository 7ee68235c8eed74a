//! Who a client is before authentication: the address of its connection,
//! put in every request's extensions by the accept loop.

/// The remote address of the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Who a client is before authentication: its IP address (`unknown` when
/// the request came some other way than the accept loop, as in tests).
pub fn identity(peer: Option<axum::Extension<PeerAddr>>) -> String {
    peer.map_or_else(
        || "unknown".to_owned(),
        |axum::Extension(p)| p.0.ip().to_string(),
    )
}
