//! `[[auth.jwt]]`: one accepted token issuer.

use std::fmt;
use std::path::PathBuf;

use switchboard_secret::Secret;

use crate::AuthConfigError;

/// Shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the
/// hash size).
pub const MIN_HS256_SECRET: usize = 32;

/// Largest `leeway_secs` accepted.
const MAX_LEEWAY_SECS: u64 = 3600;

/// How tokens of one issuer are verified.
///
/// `Debug` does not print `hs256_secret`.
#[derive(Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// The issuer: `iss` must equal it exactly. Required.
    pub issuer: String,
    /// Accepted audiences: `aud` must contain one of them (RFC 8707: only
    /// tokens meant for this server). Required.
    pub audience: Vec<String>,
    /// An `http(s)` URL of the issuer's JWKS.
    pub jwks_url: Option<String>,
    /// Or a file holding a JWKS.
    pub jwks_file: Option<PathBuf>,
    /// Or a shared secret for HS256 tokens, at least 32 bytes (inline or
    /// a secret reference, `{ file = "…" }`).
    pub hs256_secret: Option<Secret>,
    /// The claim naming the tenant (a string). Default `tenant`.
    pub tenant_claim: String,
    /// Clock skew allowed on `exp` and `nbf`, in seconds. Default 30.
    pub leeway_secs: u64,
    /// At most one JWKS refetch per this many seconds because of an unknown
    /// `kid`. Default 10.
    pub refresh_min_interval_secs: u64,
    /// A JWKS older than this many seconds is refetched on next use.
    /// Default 300.
    pub cache_ttl_secs: u64,
    /// Timeout of fetching the JWKS, in milliseconds. Default 3000.
    pub timeout_ms: u64,
    /// The tenants this issuer may name (its tokens' tenant claim must be
    /// one of them). Empty: any configured tenant — only for an issuer
    /// that every tenant trusts.
    pub tenants: Vec<String>,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            audience: Vec::new(),
            jwks_url: None,
            jwks_file: None,
            hs256_secret: None,
            tenant_claim: "tenant".to_owned(),
            leeway_secs: 30,
            refresh_min_interval_secs: 10,
            cache_ttl_secs: 300,
            timeout_ms: 3000,
            tenants: Vec::new(),
        }
    }
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("jwks_url", &self.jwks_url)
            .field("jwks_file", &self.jwks_file)
            .field("hs256_secret", &self.hs256_secret)
            .field("tenant_claim", &self.tenant_claim)
            .field("leeway_secs", &self.leeway_secs)
            .field("refresh_min_interval_secs", &self.refresh_min_interval_secs)
            .field("cache_ttl_secs", &self.cache_ttl_secs)
            .field("timeout_ms", &self.timeout_ms)
            .field("tenants", &self.tenants)
            .finish()
    }
}

impl JwtConfig {
    /// Check the settings: a non-empty issuer and audience, exactly one of
    /// `jwks_url`, `jwks_file` and `hs256_secret`, and sane numbers.
    pub fn validate(&self) -> Result<(), AuthConfigError> {
        if self.issuer.trim().is_empty() {
            return Err(AuthConfigError::jwt("issuer", "is required"));
        }
        if self.audience.is_empty() {
            return Err(AuthConfigError::jwt(
                "audience",
                "at least one audience is required (the URL clients use for this server)",
            ));
        }
        if self.audience.iter().any(|a| a.trim().is_empty()) {
            return Err(AuthConfigError::jwt(
                "audience",
                "must not contain an empty string",
            ));
        }
        let sources = [
            self.jwks_url.is_some(),
            self.jwks_file.is_some(),
            self.hs256_secret.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(AuthConfigError::jwt(
                "jwks_url",
                "exactly one of jwks_url, jwks_file and hs256_secret is required",
            ));
        }
        if let Some(url) = &self.jwks_url {
            jwks_url(url)?;
        }
        if let Some(secret) = &self.hs256_secret
            && secret.expose().len() < MIN_HS256_SECRET
        {
            return Err(AuthConfigError::jwt(
                "hs256_secret",
                format!("must be at least {MIN_HS256_SECRET} bytes"),
            ));
        }
        if self.tenant_claim.trim().is_empty() {
            return Err(AuthConfigError::jwt("tenant_claim", "must not be empty"));
        }
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return Err(AuthConfigError::jwt(
                "leeway_secs",
                format!("must be at most {MAX_LEEWAY_SECS}"),
            ));
        }
        if self.cache_ttl_secs == 0 {
            return Err(AuthConfigError::jwt(
                "cache_ttl_secs",
                "must be greater than 0",
            ));
        }
        if self.timeout_ms == 0 {
            return Err(AuthConfigError::jwt("timeout_ms", "must be greater than 0"));
        }
        Ok(())
    }
}

/// The JWKS URL, if it is an absolute `http` or `https` URL.
pub(crate) fn jwks_url(url: &str) -> Result<reqwest::Url, AuthConfigError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| AuthConfigError::jwt("jwks_url", format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(AuthConfigError::jwt(
            "jwks_url",
            "must be an http:// or https:// URL",
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> JwtConfig {
        JwtConfig {
            issuer: "https://idp.example".into(),
            audience: vec!["https://mcp.example".into()],
            jwks_url: Some("https://idp.example/jwks.json".into()),
            ..JwtConfig::default()
        }
    }

    fn field(c: &JwtConfig) -> &'static str {
        match c.validate().unwrap_err() {
            AuthConfigError::Jwt { field, .. } => field,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn defaults_and_toml_shape() {
        let c: JwtConfig = serde_json::from_str(
            r#"{"issuer":"i","audience":["a"],"jwks_file":"/x.json","leeway_secs":5}"#,
        )
        .unwrap();
        assert_eq!(c.tenant_claim, "tenant");
        assert_eq!(c.leeway_secs, 5);
        assert_eq!(
            (c.refresh_min_interval_secs, c.cache_ttl_secs, c.timeout_ms),
            (10, 300, 3000)
        );
        assert!(serde_json::from_str::<JwtConfig>(r#"{"issuer":"i","nope":1}"#).is_err());
        base().validate().unwrap();
    }

    #[test]
    fn invalid_configs_name_the_field() {
        assert_eq!(
            field(&JwtConfig {
                issuer: " ".into(),
                ..base()
            }),
            "issuer"
        );
        assert_eq!(
            field(&JwtConfig {
                audience: vec![],
                ..base()
            }),
            "audience"
        );
        assert_eq!(
            field(&JwtConfig {
                audience: vec!["".into()],
                ..base()
            }),
            "audience"
        );
        assert_eq!(
            field(&JwtConfig {
                jwks_url: None,
                ..base()
            }),
            "jwks_url"
        );
        let two = JwtConfig {
            jwks_file: Some("/k.json".into()),
            ..base()
        };
        assert_eq!(field(&two), "jwks_url");
        for url in [
            "ftp://x/jwks",
            "/jwks.json",
            "file:///etc/jwks",
            "not a url",
        ] {
            let c = JwtConfig {
                jwks_url: Some(url.into()),
                ..base()
            };
            assert_eq!(field(&c), "jwks_url", "{url}");
        }
        let short = JwtConfig {
            jwks_url: None,
            hs256_secret: Some("short".into()),
            ..base()
        };
        assert_eq!(field(&short), "hs256_secret");
        assert_eq!(
            field(&JwtConfig {
                tenant_claim: "".into(),
                ..base()
            }),
            "tenant_claim"
        );
        assert_eq!(
            field(&JwtConfig {
                leeway_secs: 86400,
                ..base()
            }),
            "leeway_secs"
        );
        assert_eq!(
            field(&JwtConfig {
                cache_ttl_secs: 0,
                ..base()
            }),
            "cache_ttl_secs"
        );
        assert_eq!(
            field(&JwtConfig {
                timeout_ms: 0,
                ..base()
            }),
            "timeout_ms"
        );
    }

    #[test]
    fn debug_redacts_the_secret() {
        let c = JwtConfig {
            jwks_url: None,
            hs256_secret: Some("a-very-secret-shared-key-of-32-bytes!!".into()),
            ..base()
        };
        c.validate().unwrap();
        let text = format!("{c:?}");
        assert!(!text.contains("very-secret"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }
}
