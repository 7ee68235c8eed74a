//! `[oauth]`: Switchboard as the authorization server of its own endpoint.

use serde::{Deserialize, Serialize};
use switchboard_secret::Secret;

/// Who may register a client (RFC 7591).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Anyone (the user still signs in and consents to each client).
    #[default]
    Open,
    /// Only with the initial access token whose digest is
    /// `registration_token_sha256` (RFC 7591 §3).
    Token,
    /// Nobody: clients are configured, or identified by a metadata
    /// document.
    Off,
}

/// `[oauth]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    /// The issuer: the origin clients reach Switchboard at
    /// (`https://mcp.example.com`; `http://` only on a loopback host).
    /// The endpoints are under `/oauth/`, the metadata at
    /// `/.well-known/oauth-authorization-server`. Required.
    pub issuer: String,
    /// Seconds an access token lives. Default 600.
    pub access_token_secs: u64,
    /// Seconds a refresh token family lives from its sign-in. Default
    /// 30 days.
    pub refresh_token_secs: u64,
    /// Seconds an authorization code may be redeemed in. Default 60.
    pub code_secs: u64,
    /// Seconds a user has to sign in and consent. Default 600.
    pub login_secs: u64,
    /// Seconds a signing key signs before the next one takes over.
    /// Default 7 days.
    pub key_rotation_secs: u64,
    /// Dynamic client registration: `open` (default), `token` or `off`.
    pub registration: Registration,
    /// With `registration = "token"`: the SHA-256 (hex) of the initial
    /// access token.
    pub registration_token_sha256: Option<Secret>,
    /// Registered clients kept at most. Default 10000.
    pub max_registered_clients: usize,
    /// Whether DPoP proofs (RFC 9449) must carry a nonce the server
    /// issued (`use_dpop_nonce`). Default false.
    pub dpop_nonce: bool,
    /// Client ID Metadata Documents: an `https://` client id is fetched.
    pub client_metadata: ClientMetadataConfig,
    /// Clients configured here (`[[oauth.clients]]`).
    pub clients: Vec<ClientConfig>,
    /// The local user list (`[[oauth.users]]`), for deployments without
    /// an identity provider.
    pub users: Vec<UserConfig>,
    /// The company's identity provider, where users sign in
    /// (`[oauth.oidc]`). With it, the local user list is not offered.
    pub oidc: Option<OidcConfig>,
}

/// `[oauth.oidc]`: Switchboard as an OpenID Connect relying party of the
/// company's identity provider.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer; its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`. `https://` (or
    /// `http://` on a loopback host).
    pub issuer: String,
    /// Switchboard's client id there. Its redirect URI is
    /// `<oauth.issuer>/oauth/callback`.
    pub client_id: String,
    /// Its secret; none for a public client.
    pub client_secret: Option<Secret>,
    /// How the secret is sent to the token endpoint: `client_secret_basic`
    /// (default) or `client_secret_post` (in the form; some providers do
    /// not decode Basic credentials).
    pub token_endpoint_auth: TokenEndpointAuth,
    /// The scopes asked for. Default `openid email profile`.
    pub scopes: Vec<String>,
    /// The claim that names the user (the tokens' subject). Default
    /// `sub`.
    pub subject_claim: String,
    /// Milliseconds one request to the provider may take. Default 5000.
    pub timeout_ms: u64,
    /// Who gets which tenant and scopes (`[[oauth.oidc.rules]]`), tried
    /// in order; the first whose condition holds decides. A user no rule
    /// admits cannot sign in.
    pub rules: Vec<OidcRule>,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: None,
            token_endpoint_auth: TokenEndpointAuth::ClientSecretBasic,
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            subject_claim: "sub".into(),
            timeout_ms: 5000,
            rules: Vec::new(),
        }
    }
}

/// How Switchboard authenticates at the identity provider's token
/// endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuth {
    /// HTTP Basic with the form-encoded id and secret (RFC 6749 §2.3.1).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form.
    ClientSecretPost,
}

/// `[[oauth.oidc.rules]]`: a condition on the ID token's claims, and the
/// tenant and scopes of the users it admits.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcRule {
    /// A CEL expression over `claims` (the ID token's claims), e.g.
    /// `claims.email.endsWith("@acme.com")` or `"admins" in
    /// claims.groups`. None: every user.
    #[serde(default)]
    pub when: Option<String>,
    /// The tenant of the users it admits.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Or the claim naming it.
    #[serde(default)]
    pub tenant_claim: Option<String>,
    /// The scopes they may grant a client.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl OidcConfig {
    fn validate(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: String| Err((format!("oidc.{k}"), m));
        let url = url::Url::parse(&self.issuer).ok();
        let ok = url.as_ref().is_some_and(|u| {
            u.scheme() == "https"
                || (u.scheme() == "http" && u.host_str().is_some_and(crate::urls::is_loopback_host))
        });
        if !ok {
            return err(
                "issuer",
                "an https:// URL (http:// only on a loopback host)".into(),
            );
        }
        if self.client_id.is_empty() {
            return err("client_id", "is required".into());
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            return err("scopes", "must include openid".into());
        }
        if self.timeout_ms == 0 {
            return err("timeout_ms", "must be greater than 0".into());
        }
        if self.rules.is_empty() {
            return err(
                "rules",
                "at least one rule: which users get which tenant".into(),
            );
        }
        for (i, r) in self.rules.iter().enumerate() {
            if r.tenant.is_some() == r.tenant_claim.is_some() {
                return err(
                    &format!("rules[{i}]"),
                    "exactly one of tenant and tenant_claim".into(),
                );
            }
            if let Some(w) = &r.when {
                switchboard_policy::Condition::compile(w)
                    .map_err(|e| (format!("oidc.rules[{i}].when"), e.to_string()))?;
            }
        }
        Ok(())
    }
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            access_token_secs: 600,
            refresh_token_secs: 30 * 24 * 3600,
            code_secs: 60,
            login_secs: 600,
            key_rotation_secs: 7 * 24 * 3600,
            registration: Registration::Open,
            registration_token_sha256: None,
            max_registered_clients: 10_000,
            dpop_nonce: false,
            client_metadata: ClientMetadataConfig::default(),
            clients: Vec::new(),
            users: Vec::new(),
            oidc: None,
        }
    }
}

/// `[oauth.client_metadata]`: fetching Client ID Metadata Documents.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientMetadataConfig {
    /// Whether an `https://` client id is looked up. Default true.
    pub enabled: bool,
    /// Milliseconds a fetch may take. Default 3000.
    pub timeout_ms: u64,
    /// Largest document, in bytes. Default 5120.
    pub max_bytes: usize,
    /// Seconds a fetched document is kept. Default 300.
    pub cache_secs: u64,
    /// Whether a document may be fetched from a private, loopback or
    /// link-local address. Default false (a client id must not make
    /// Switchboard reach into its own network).
    pub allow_private: bool,
    /// Whether an `http://` client id is accepted (tests only). Default
    /// false.
    pub allow_http: bool,
}

impl Default for ClientMetadataConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            timeout_ms: 3000,
            max_bytes: 5120,
            cache_secs: 300,
            allow_private: false,
            allow_http: false,
        }
    }
}

/// `[[oauth.clients]]`: a client known in advance.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Its `client_id`.
    pub id: String,
    /// The name the consent page shows. Default: the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Where it may be sent back to (exact; a loopback `http://` URI with
    /// any port).
    pub redirect_uris: Vec<String>,
    /// The SHA-256 (hex) of its secret: a confidential client
    /// (`client_secret_basic` or `client_secret_post`). None: a public
    /// client.
    #[serde(default)]
    pub secret_sha256: Option<Secret>,
}

/// `[[oauth.users]]`: one local user.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The name signed in with: the token's subject.
    pub name: String,
    /// The password's argon2 hash, a PHC string (`switchboard oauth
    /// hash-password` makes one). May be a secret reference.
    pub password_hash: Secret,
    /// The tenant the user's tokens name.
    pub tenant: String,
    /// The scopes the user may grant a client.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl OAuthConfig {
    /// Check the settings; the error names the field (under `oauth.`).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: &str| Err((k.to_owned(), m.to_owned()));
        if crate::urls::origin(&self.issuer).is_none() {
            return err(
                "issuer",
                "must be an origin: https://host[:port] (http:// only on a loopback host), no path",
            );
        }
        for (key, v) in [
            ("access_token_secs", self.access_token_secs),
            ("refresh_token_secs", self.refresh_token_secs),
            ("code_secs", self.code_secs),
            ("login_secs", self.login_secs),
            ("key_rotation_secs", self.key_rotation_secs),
            (
                "client_metadata.timeout_ms",
                self.client_metadata.timeout_ms,
            ),
        ] {
            if v == 0 {
                return err(key, "must be greater than 0");
            }
        }
        if self.access_token_secs > 24 * 3600 {
            return err("access_token_secs", "at most one day");
        }
        if self.code_secs > 600 {
            return err("code_secs", "at most 600 (RFC 6749 §4.1.2)");
        }
        if !(256..=65536).contains(&self.client_metadata.max_bytes) {
            return err("client_metadata.max_bytes", "between 256 and 65536");
        }
        if self.registration == Registration::Token && self.registration_token_sha256.is_none() {
            return err(
                "registration_token_sha256",
                "registration = \"token\" needs the initial access token's digest",
            );
        }
        if self
            .registration_token_sha256
            .as_ref()
            .is_some_and(|d| !is_sha256_hex(d.expose()))
        {
            return err("registration_token_sha256", "64 lowercase hex digits");
        }
        self.validate_clients()?;
        if let Some(o) = &self.oidc {
            o.validate()?;
        }
        self.validate_users()
    }

    fn validate_clients(&self) -> Result<(), (String, String)> {
        let mut ids = std::collections::HashSet::new();
        for (i, c) in self.clients.iter().enumerate() {
            let at = |f: &str| format!("clients[{i}].{f}");
            if c.id.is_empty() || c.id.len() > 255 || !ids.insert(c.id.as_str()) {
                return Err((at("id"), "must be 1-255 bytes and unique".into()));
            }
            if c.redirect_uris.is_empty() {
                return Err((at("redirect_uris"), "at least one".into()));
            }
            if let Some(bad) = c
                .redirect_uris
                .iter()
                .find(|u| crate::urls::redirect_uri(u).is_err())
            {
                return Err((at("redirect_uris"), format!("{bad:?} is not allowed")));
            }
            if let Some(s) = &c.secret_sha256
                && !is_sha256_hex(s.expose())
            {
                return Err((at("secret_sha256"), "64 lowercase hex digits".into()));
            }
        }
        Ok(())
    }

    fn validate_users(&self) -> Result<(), (String, String)> {
        let mut names = std::collections::HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            let at = |f: &str| format!("users[{i}].{f}");
            if u.name.is_empty() || u.name.len() > 128 || !names.insert(u.name.as_str()) {
                return Err((at("name"), "must be 1-128 bytes and unique".into()));
            }
            check_hash(u.password_hash.expose()).map_err(|e| (at("password_hash"), e))?;
        }
        Ok(())
    }
}

/// Whether `s` is a lowercase hex SHA-256.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Check a configured hash: a PHC string of argon2 (`$argon2id$…`).
pub(crate) fn check_hash(phc: &str) -> Result<(), String> {
    let h = argon2::password_hash::PasswordHash::new(phc)
        .map_err(|e| format!("not a PHC string: {e}"))?;
    if !h.algorithm.as_str().starts_with("argon2") {
        return Err(format!("{} is not argon2", h.algorithm));
    }
    Ok(())
}
