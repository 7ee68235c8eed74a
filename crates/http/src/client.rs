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
        |axum::Extension(p)| ip_text(p.0.ip()),
    )
}

/// `ip` as its `Display` writes it; an IPv4 address without `fmt`'s
/// machinery (padding support and a stack buffer per octet cost about
/// 1,300 instructions, on every request).
fn ip_text(ip: std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut s = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if octet >= 100 {
            s.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            s.push(char::from(b'0' + octet / 10 % 10));
        }
        s.push(char::from(b'0' + octet % 10));
    }
    s
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

    #[test]
    fn ip_text_is_display() {
        let mut x: u32 = 0x9e37_79b9;
        let mut v4: Vec<std::net::Ipv4Addr> =
            ["0.0.0.0", "255.255.255.255", "10.0.100.9", "1.20.199.250"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect();
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            v4.push(std::net::Ipv4Addr::from(x));
        }
        for ip in v4 {
            assert_eq!(ip_text(ip.into()), ip.to_string());
        }
        for s in ["::1", "::ffff:127.0.0.1", "2001:db8::8a2e:370:7334"] {
            let ip: std::net::IpAddr = s.parse().unwrap();
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }

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
