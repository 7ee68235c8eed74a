//! Checking a configuration's values: each error names the key (dotted,
//! with list indices) and says what is wrong.

use crate::config::Config;
use crate::secret::decode_key;
use crate::store::{self, StoreKind};

/// The smallest `max_session_bytes` accepted.
const MIN_SESSION_BYTES: usize = 1024;

impl Config {
    /// The `[[policies]]` compiled, in order (they were checked when the
    /// configuration was read).
    pub fn policy_rules(&self) -> Vec<crate::policies::PolicyRule> {
        self.policies
            .iter()
            .filter_map(|p| p.compile().ok())
            .collect()
    }

    /// Check the values are usable; the error is the key and what is wrong
    /// with its value.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let positive = [
            ("max_body_bytes", self.max_body_bytes as u64),
            ("keep_alive_secs", self.keep_alive_secs),
            ("stream_buffer", self.stream_buffer as u64),
            ("event_log_events", self.event_log_events as u64),
            ("session_idle_secs", self.session_idle_secs),
            ("session_init_timeout_secs", self.session_init_timeout_secs),
            ("session_max_lifetime_secs", self.session_max_lifetime_secs),
            (
                "client_request_timeout_secs",
                self.client_request_timeout_secs,
            ),
            ("page_size", self.page_size as u64),
            ("max_in_flight", self.max_in_flight as u64),
            ("request_timeout_secs", self.request_timeout_secs),
            ("max_sessions", self.max_sessions as u64),
            (
                "max_sessions_per_identity",
                self.max_sessions_per_identity as u64,
            ),
            ("upstream_pool_size", self.upstream_pool_size as u64),
            (
                "max_streams_per_session",
                self.max_streams_per_session as u64,
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(((*key).to_owned(), "must be greater than 0".to_owned()));
        }
        self.validate_connections()?;
        self.validate_session_bytes()?;
        self.validate_store()?;
        self.admin.validate()?;
        self.telemetry.validate()?;
        if let Some(key) = &self.sealing_key {
            decode_key(key.expose()).map_err(|e| ("sealing_key".to_owned(), e))?;
        }
        self.validate_upstreams()?;
        self.vault.keys()?;
        crate::tenants::validate(&self.auth, &self.tenants)?;
        let tenants = self
            .tenants
            .iter()
            .map(|t| t.id.as_str())
            .chain([crate::ANONYMOUS])
            .collect();
        crate::policies::validate(&self.policies, &tenants)?;
        crate::servers::validate(&self.servers, &tenants)?;
        crate::hooks::validate(&self.hooks, &tenants)?;
        self.validate_oauth()?;
        self.redact.redactor().map(drop)
    }

    /// `[oauth]`: its own settings, its users' tenants configured, and
    /// its signing keys sealed in the vault when they outlive the process.
    fn validate_oauth(&self) -> Result<(), (String, String)> {
        let Some(o) = &self.oauth else {
            return Ok(());
        };
        o.validate()
            .map_err(|(key, message)| (format!("oauth.{key}"), message))?;
        if let Some((i, u)) = o.users.iter().enumerate().find(|(_, u)| {
            u.tenant == crate::ANONYMOUS || !self.tenants.iter().any(|t| t.id == u.tenant)
        }) {
            return Err((
                format!("oauth.users[{i}].tenant"),
                format!("no tenant {:?} is configured", u.tenant),
            ));
        }
        let rules = o.oidc.iter().flat_map(|d| d.rules.iter().enumerate());
        for (i, r) in rules {
            if let Some(t) = &r.tenant
                && (t == crate::ANONYMOUS || !self.tenants.iter().any(|c| &c.id == t))
            {
                return Err((
                    format!("oauth.oidc.rules[{i}].tenant"),
                    format!("no tenant {t:?} is configured"),
                ));
            }
        }
        if self.store != crate::StoreKind::Memory && self.vault.keys.is_empty() {
            return Err((
                "oauth".into(),
                "with a shared store the signing keys are sealed in the token vault: give [vault] keys".into(),
            ));
        }
        Ok(())
    }

    /// Each `[[upstreams]]` entry valid, no name twice, and tenants'
    /// credentials only for configured tenants.
    fn validate_upstreams(&self) -> Result<(), (String, String)> {
        let mut names = std::collections::HashSet::new();
        for (i, u) in self.upstreams.iter().enumerate() {
            u.validate()
                .map_err(|(field, message)| (format!("upstreams[{i}].{field}"), message))?;
            if u.auth
                .as_ref()
                .is_some_and(|a| a.grant == switchboard_upstream::gateway::Grant::AuthorizationCode)
                && self.vault.keys.is_empty()
            {
                return Err((
                    format!("upstreams[{i}].auth.grant"),
                    "authorization_code keeps users' grants in the token vault: give [vault] keys"
                        .into(),
                ));
            }
            if let Some(t) = u.tenants.keys().find(|t| {
                t.as_str() != crate::ANONYMOUS && !self.tenants.iter().any(|c| &c.id == *t)
            }) {
                return Err((
                    format!("upstreams[{i}].tenants.{t}"),
                    format!("no tenant {t:?} is configured"),
                ));
            }
            if !names.insert(u.name.as_str()) {
                return Err((
                    format!("upstreams[{i}].name"),
                    format!("upstream {:?} is defined twice", u.name),
                ));
            }
        }
        Ok(())
    }

    /// The connection caps: positive, and one address's cap within the
    /// total (the ceiling set by the open-file limit is applied at accept).
    fn validate_connections(&self) -> Result<(), (String, String)> {
        for (key, value) in [
            ("max_connections", self.max_connections),
            (
                "max_connections_per_address",
                self.max_connections_per_address,
            ),
        ] {
            if value == Some(0) {
                return Err((key.to_owned(), "must be greater than 0".to_owned()));
            }
        }
        if let (Some(total), Some(one)) = (self.max_connections, self.max_connections_per_address)
            && one > total
        {
            return Err((
                "max_connections_per_address".to_owned(),
                format!("must not exceed max_connections ({total})"),
            ));
        }
        Ok(())
    }

    /// The session byte bounds: room for a bare record, and a budget per
    /// identity that holds at least one session of the largest size.
    fn validate_session_bytes(&self) -> Result<(), (String, String)> {
        if self.max_session_bytes < MIN_SESSION_BYTES {
            return Err((
                "max_session_bytes".to_owned(),
                format!(
                    "must be at least {MIN_SESSION_BYTES} (a session's record takes a few hundred bytes before the client's capabilities)"
                ),
            ));
        }
        if self.max_session_bytes_per_identity < self.max_session_bytes {
            return Err((
                "max_session_bytes_per_identity".to_owned(),
                format!(
                    "must be at least max_session_bytes ({})",
                    self.max_session_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Check `store` and the Redis keys.
    fn validate_store(&self) -> Result<(), (String, String)> {
        let c = self;
        let err = |key: &str, message: &str| Err((key.to_owned(), message.to_owned()));
        if c.store == StoreKind::File {
            store::validate_path(&c.store_path).or_else(|m| err("store_path", &m))?;
        }
        if c.redis_prefix.is_empty() || c.redis_prefix.contains(['{', '}', ' ', '\t']) {
            return err(
                "redis_prefix",
                "must be non-empty, without braces or spaces",
            );
        }
        if c.owner_lease_ms < 300 {
            return err("owner_lease_ms", "must be at least 300");
        }
        if let Some(url) = &c.advertise_url {
            store::validate_advertise_url(url).or_else(|m| err("advertise_url", &m))?;
        }
        if c.redis_timeout_ms == 0 {
            return err("redis_timeout_ms", "must be greater than 0");
        }
        let Some(url) = &c.redis_url else {
            return match c.store {
                StoreKind::Redis => err(
                    "redis_url",
                    "is required with store = \"redis\" (e.g. redis://127.0.0.1:6379)",
                ),
                _ => Ok(()),
            };
        };
        if c.redis_cluster {
            // Seed nodes of a cluster: TCP only, one database (0).
            return url
                .expose()
                .split(',')
                .map(str::trim)
                .try_for_each(store::validate_cluster_url)
                .or_else(|m| err("redis_url", &m));
        }
        store::validate_url(url.expose()).or_else(|m| err("redis_url", &m))
    }
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_default_and_errors_name_the_key() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.max_body_bytes, 4 << 20);
        assert_eq!(c.admin.listen.to_string(), "127.0.0.1:8081");
        assert!(c.admin.token_sha256.is_none());
        let e = Config::from_toml("no_such_key = 1").unwrap_err();
        assert!(e.contains("no_such_key"), "{e}");
        let e = Config::from_toml("page_size = 0").unwrap_err();
        assert!(e.contains("page_size"), "{e}");
        let e = Config::from_toml("sealing_key = \"abcd\"").unwrap_err();
        assert!(e.contains("sealing_key"), "{e}");
        let key = "00".repeat(32);
        let c = Config::from_toml(&format!("sealing_key = \"{key}\"")).unwrap();
        assert_eq!(c.sealing_key_bytes().unwrap().unwrap(), vec![0u8; 32]);
        assert!(!format!("{c:?}").contains(&key), "Debug shows no secret");
        let e = Config::from_toml("keep_alive_secs = \"x\"").unwrap_err();
        assert!(e.contains("keep_alive_secs"), "{e}");
    }

    #[test]
    fn session_byte_bounds_are_validated() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.max_session_bytes, 64 << 10);
        assert_eq!(c.max_session_bytes_per_identity, 16 << 20);
        let e = Config::from_toml("max_session_bytes = 1000").unwrap_err();
        assert!(e.contains("max_session_bytes"), "{e}");
        let e =
            Config::from_toml("max_session_bytes = 8192\nmax_session_bytes_per_identity = 4096")
                .unwrap_err();
        assert!(e.contains("max_session_bytes_per_identity"), "{e}");
        let c =
            Config::from_toml("max_session_bytes = 8192\nmax_session_bytes_per_identity = 8192")
                .unwrap();
        assert_eq!(c.max_session_bytes_per_identity, 8192);
    }

    #[test]
    fn tenants_are_validated() {
        let ok = format!(
            "[[tenants]]\nid = \"acme\"\napi_keys = [{{ id = \"ci\", sha256 = \"{}\" }}]\nrate = {{ per_second = 5, burst = 10 }}\n",
            "ab".repeat(32)
        );
        let c = Config::from_toml(&ok).unwrap();
        assert_eq!(c.tenants[0].rate.unwrap().burst, 10);
        for (bad, key) in [
            ("[[tenants]]\nid = \"a b\"", "tenants[0].id"),
            (
                "[[tenants]]\nid = \"a\"\n[[tenants]]\nid = \"a\"",
                "tenants[1].id",
            ),
            (
                "[[tenants]]\nid = \"a\"\napi_keys = [{ id = \"k\", sha256 = \"abc\" }]",
                "tenants[0].api_keys[0].sha256",
            ),
            ("[[tenants]]\nid = \"a\"\nweight = 0", "tenants[0].weight"),
            (
                "[[tenants]]\nid = \"a\"\nrate = { per_second = 0, burst = 1 }",
                "tenants[0].rate",
            ),
            (
                "[[tenants]]\nid = \"a\"\nmax_sessions = 0",
                "tenants[0].max_sessions",
            ),
            ("[[auth.jwt]]\nissuer = \"x\"", "auth.jwt[0]"),
            ("[auth]\nanonymous = \"sometimes\"", "anonymous"),
            ("[admin]\ntoken_sha256 = \"abc\"", "admin.token_sha256"),
            ("[admin]\nnode_id = \"a b\"", "admin.node_id"),
            (
                "[auth]\nmetrics_token_sha256 = \"xyz\"",
                "auth.metrics_token_sha256",
            ),
        ] {
            let e = Config::from_toml(bad).unwrap_err();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }

    #[test]
    fn store_keys_are_validated() {
        let c = Config::from_toml("").expect("defaults");
        assert_eq!(c.store.name(), "memory");
        assert_eq!(c.redis_prefix, "switchboard");
        let c = Config::from_toml("store = \"file\"").expect("file, default path");
        assert_eq!(c.store_path, std::path::Path::new("switchboard.redb"));
        for (bad, key, says) in [
            (
                "store = \"file\"\nstore_path = \"/nonexistent-dir/s.redb\"",
                "store_path",
                "does not exist",
            ),
            (
                "store = \"file\"\nstore_path = \"/\"",
                "store_path",
                "directory",
            ),
            ("store = \"file\"\nstore_path = \"\"", "store_path", "empty"),
            ("store = \"disk\"", "store", "unknown variant"),
            ("store = \"redis\"", "redis_url", "required"),
            (
                "store = \"redis\"\nredis_url = \"rediss://h\"",
                "redis_url",
                "TLS",
            ),
            ("redis_url = \"http://h\"", "redis_url", "redis://"),
            ("redis_prefix = \"a{b}\"", "redis_prefix", "braces"),
            (
                "redis_url = \"redis://a:1,redis://b:2\"",
                "redis_url",
                "redis_cluster",
            ),
            (
                "redis_cluster = true\nredis_url = \"redis://a:1,unix:///s\"",
                "redis_url",
                "redis://",
            ),
            (
                "redis_cluster = true\nredis_url = \"redis://a:1/2\"",
                "redis_url",
                "database 0",
            ),
            ("redis_timeout_ms = 0", "redis_timeout_ms", "greater than 0"),
            ("owner_lease_ms = 100", "owner_lease_ms", "at least 300"),
            (
                "advertise_url = \"10.0.0.5:80\"",
                "advertise_url",
                "http://",
            ),
            (
                "advertise_url = \"not a url\"",
                "advertise_url",
                "not a URL",
            ),
        ] {
            let e = Config::from_toml(bad).expect_err(bad);
            assert!(e.contains(key) && e.contains(says), "{bad}: {e}");
        }
        let c = Config::from_toml(
            "store = \"redis\"\nredis_url = \"redis://u:pw@h:1\"\nredis_timeout_ms = \"2s\"",
        )
        .expect("valid");
        assert_eq!(c.redis_timeout_ms, 2000);
        let owner = Config::from_toml(
            "advertise_url = \"http://10.0.0.5:8080/mcp\"\nowner_lease_ms = \"3s\"",
        )
        .expect("valid");
        assert_eq!(owner.owner_lease_ms, 3000);
        let shown = c.redacted_toml();
        assert!(
            !shown.contains("pw@") && shown.contains("redis://u:<redacted>@h:1"),
            "{shown}"
        );
        assert!(!format!("{c:?}").contains("pw@"));
        let c = Config::from_toml(
            "store = \"redis\"\nredis_cluster = true\nredis_url = \"redis://a:1, redis://u:pw@b:2/0\"",
        )
        .expect("cluster seeds");
        assert!(c.redis_cluster);
    }
}
