//! The `store` choice and its Redis settings: validation and redaction.

use serde::{Deserialize, Serialize};

/// Where sessions and event logs live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// In this process: lost on restart, not shared between nodes.
    #[default]
    Memory,
    /// In Redis (`redis_url`): shared by every node with the same URL and
    /// `redis_prefix`.
    Redis,
    /// An embedded database on disk (`store_path`): survives a restart, not
    /// shared between nodes.
    File,
}

impl StoreKind {
    /// The name as written in the configuration: `memory`, `redis`, `file`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
            Self::File => "file",
        }
    }
}

pub(crate) fn validate_url(url: &str) -> Result<(), String> {
    if url.starts_with("rediss://") {
        return Err("TLS (rediss://) is not built in; use redis:// or redis+unix://".to_owned());
    }
    if !["redis://", "redis+unix://", "unix://"]
        .iter()
        .any(|s| url.starts_with(s))
    {
        return Err("must start with redis://, redis+unix:// or unix://".to_owned());
    }
    if url.contains(',') {
        return Err(
            "names one Redis; several (comma-separated) need redis_cluster = true".to_owned(),
        );
    }
    Ok(())
}

pub(crate) fn validate_cluster_url(url: &str) -> Result<(), String> {
    if url.starts_with("rediss://") {
        return Err("TLS (rediss://) is not built in; use redis://".to_owned());
    }
    let Some(rest) = url.strip_prefix("redis://") else {
        return Err(format!(
            "with redis_cluster, each comma-separated URL must start with redis:// (got {:?})",
            redact_url(url)
        ));
    };
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    if !matches!(path.split('?').next(), Some("" | "0")) {
        return Err("a Redis Cluster has only database 0".to_owned());
    }
    Ok(())
}

/// An absolute `http(s)://host[:port]/path` URL another node can POST to.
pub(crate) fn validate_advertise_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!(
            "{url:?} must be an absolute http:// or https:// URL (e.g. http://10.0.0.5:8080/mcp)"
        ));
    }
    Ok(())
}

/// A usable database file path: not empty, not a directory, in a directory
/// that exists (the file itself is created on first start).
pub(crate) fn validate_path(path: &std::path::Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        return Err("must not be empty".to_owned());
    }
    if path.is_dir() {
        return Err(format!(
            "{} is a directory; name a file in it",
            path.display()
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!("the directory {} does not exist", dir.display()));
    }
    Ok(())
}

/// A Redis URL fit for logs: the password (in the user part or in a
/// `pass`/`password` query parameter) replaced by `<redacted>`; each one of
/// a comma-separated list (the seed nodes of a cluster).
pub fn redact_url(url: &str) -> String {
    if url.contains(',') {
        let parts: Vec<String> = url.split(',').map(|u| redact_one(u.trim())).collect();
        return parts.join(",");
    }
    redact_one(url)
}

fn redact_one(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) if q.contains("pass") => (r, Some("<redacted>")),
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{user}:<redacted>@{host}"),
            None => format!("<redacted>@{host}"),
        },
        None => authority.to_owned(),
    };
    let mut out = if scheme.is_empty() {
        format!("{authority}{path}")
    } else {
        format!("{scheme}://{authority}{path}")
    };
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("redis://app:s3cret@db:6379/2"),
            "redis://app:<redacted>@db:6379/2"
        );
        assert_eq!(redact_url("redis://s3cret@db"), "redis://<redacted>@db");
        assert_eq!(redact_url("redis://db:6379"), "redis://db:6379");
        assert_eq!(
            redact_url("redis://:pw@a:1, redis://u:pw@b:2"),
            "redis://:<redacted>@a:1,redis://u:<redacted>@b:2"
        );
        assert_eq!(
            redact_url("redis+unix:///run/redis.sock?db=1&pass=s3cret"),
            "redis+unix:///run/redis.sock?<redacted>"
        );
    }
}
