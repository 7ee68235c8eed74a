//! The target endpoint: parsed once, resolved once, and refused unless every
//! address it resolves to is a loopback address (or `--allow-remote`).

use std::net::{IpAddr, SocketAddr};

use http::{HeaderValue, Uri};

/// Where requests go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The URL as given.
    pub url: String,
    /// The address every connection is made to.
    pub addr: SocketAddr,
    /// The `Host` header.
    pub host: HeaderValue,
    /// Path and query, the request target of every request.
    pub path: Uri,
}

/// Parse `url`, resolve it, and check that it is loopback unless allowed.
pub(crate) async fn resolve(url: &str, allow_remote: bool) -> Result<Target, String> {
    let uri: Uri = url.parse().map_err(|e| format!("bad --url {url:?}: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err("https is not supported: use an http:// URL".into()),
        _ => return Err(format!("--url {url:?} must start with http://")),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("--url {url:?} has no host"))?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    check_loopback(host, &addrs, allow_remote)?;
    let path = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|e| format!("bad path in {url:?}: {e}"))?;
    Ok(Target {
        url: url.to_owned(),
        addr: preferred(&addrs),
        host: HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?,
        path,
    })
}

/// The first IPv4 address (servers often listen on 127.0.0.1 only), else the first.
fn preferred(addrs: &[SocketAddr]) -> SocketAddr {
    *addrs.iter().find(|a| a.is_ipv4()).unwrap_or(&addrs[0])
}

/// `Ok` if there is an address and every one is loopback, or remote targets are allowed.
pub(crate) fn check_loopback(
    host: &str,
    addrs: &[SocketAddr],
    allow_remote: bool,
) -> Result<(), String> {
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    if allow_remote || addrs.iter().all(|a| is_loopback(a.ip())) {
        return Ok(());
    }
    Err(format!(
        "refusing to load-test {host} ({}): not a loopback address; pass --allow-remote \
         if you mean it",
        addrs[0].ip()
    ))
}

/// 127.0.0.0/8, ::1, and IPv4-mapped 127.0.0.0/8.
pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("socket address")
    }

    #[test]
    fn loopback_addresses() {
        for ip in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "10.0.0.1",
            "192.168.1.1",
            "8.8.8.8",
            "::",
            "0.0.0.0",
            "fe80::1",
        ] {
            assert!(!is_loopback(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn refuses_remote_unless_allowed() {
        let remote = [addr("10.1.2.3:80")];
        assert!(check_loopback("x", &remote, false).is_err());
        assert!(check_loopback("x", &remote, true).is_ok());
        let mixed = [addr("127.0.0.1:80"), addr("10.1.2.3:80")];
        assert!(check_loopback("x", &mixed, false).is_err());
        assert!(check_loopback("x", &[addr("[::1]:80")], false).is_ok());
        assert!(check_loopback("x", &[], true).is_err());
    }

    #[tokio::test]
    async fn resolves_urls() {
        let t = resolve("http://localhost:9/mcp?x=1", false)
            .await
            .expect("localhost");
        assert!(is_loopback(t.addr.ip()));
        assert_eq!(t.path, "/mcp?x=1");
        assert_eq!(t.host, "localhost:9");
        let t = resolve("http://[::1]:9/mcp", false).await.expect("::1");
        assert_eq!(t.addr, addr("[::1]:9"));
        assert!(resolve("http://10.0.0.1:9/mcp", false).await.is_err());
        assert!(resolve("https://127.0.0.1/mcp", false).await.is_err());
        assert!(resolve("ftp://127.0.0.1/", false).await.is_err());
    }
}
