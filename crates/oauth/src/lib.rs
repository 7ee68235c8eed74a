//! Switchboard as an OAuth 2.1 authorization server for its own MCP
//! endpoint, so a client that only speaks MCP's authorization flow can
//! sign in: metadata (RFC 8414), clients configured, registered
//! dynamically (RFC 7591) or identified by a Client ID Metadata Document,
//! authorization code with PKCE S256 only, resource indicators (RFC 8707)
//! binding each token to one endpoint, `iss` in the authorization response
//! (RFC 9207), short-lived ES256 access tokens with rotated signing keys,
//! refresh tokens rotated on use with reuse detection, and revocation
//! (RFC 7009).
//!
//! Everything a sign-in leaves behind — pending requests, codes, refresh
//! token families, registered clients — is in the configured store, so any
//! node completes a flow another started; the signing keys are sealed in
//! the token vault.
//!
//! - [`OAuthConfig`]: the `[oauth]` section.
//! - [`AuthorizationServer`]: the server; [`router`] its endpoints;
//!   [`AuthorizationServer::verify`] checks a token it issued.
//! - [`hash_password`]: a local user's password hash.

#![warn(missing_docs)]

mod cimd;
mod client;
mod clients;
pub mod config;
pub mod dpop;
mod error;
mod fetch;
mod grants;
mod keys;
mod oidc;
mod pages;
mod params;
mod paths;
mod routes;
mod server;
mod throttle;
mod urls;
mod users;

pub use config::{
    ClientConfig, ClientMetadataConfig, OAuthConfig, OidcConfig, OidcRule, Registration,
    TokenEndpointAuth, UserConfig,
};
pub use error::OAuthError;
pub use routes::{METADATA_PATH, router};
pub use server::AuthorizationServer;
pub use users::hash_password;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `N` random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system's random source works");
    b
}

/// An unguessable id: `bytes` random bytes, base64url.
pub(crate) fn random_id(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the operating system's random source works");
    URL_SAFE_NO_PAD.encode(b)
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
