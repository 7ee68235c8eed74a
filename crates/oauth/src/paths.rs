//! Where the authorization server's endpoints are, under its issuer.

/// The authorization endpoint (RFC 6749 §3.1).
pub(crate) const AUTHORIZE: &str = "/oauth/authorize";
/// The token endpoint (RFC 6749 §3.2).
pub(crate) const TOKEN: &str = "/oauth/token";
/// Dynamic client registration (RFC 7591).
pub(crate) const REGISTER: &str = "/oauth/register";
/// Revocation (RFC 7009).
pub(crate) const REVOKE: &str = "/oauth/revoke";
/// The public signing keys.
pub(crate) const JWKS: &str = "/oauth/jwks";
/// The local user list's sign-in form posts here.
pub(crate) const LOGIN: &str = "/oauth/login";
/// The consent page posts here.
pub(crate) const CONSENT: &str = "/oauth/consent";
/// The identity provider sends the browser back here.
pub(crate) const CALLBACK: &str = "/oauth/callback";
