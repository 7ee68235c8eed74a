//! Authenticating one request: the `Authorization: Bearer` header, checked
//! as a JWT or an API key, mapped to a tenant.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use switchboard_auth::{JwtError, looks_like_jwt};
use switchboard_config::ANONYMOUS;
use switchboard_oauth::AuthorizationServer;

use super::Tenants;
use crate::tenant::{Principal, Via};

/// Why a request could not be authenticated. Descriptions never contain
/// the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No credential, and anonymous access is off: 401 without an error
    /// code (RFC 6750 §3.1).
    Missing,
    /// A credential that is not valid here: 401 `invalid_token`.
    Invalid(String),
    /// A malformed `Authorization` header: 400 `invalid_request`.
    Malformed(String),
    /// The keys to check it could not be fetched: 503.
    Unavailable(String),
}

impl AuthFailure {
    /// The audit trail's short name of the failure.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing_credential",
            AuthFailure::Invalid(_) => "invalid_token",
            AuthFailure::Malformed(_) => "invalid_request",
            AuthFailure::Unavailable(_) => "keys_unavailable",
        }
    }
}

/// Largest `Authorization` header value looked at.
const MAX_CREDENTIAL: usize = 16 * 1024;

impl Tenants {
    /// Who sends a request with these headers, from `addr`.
    /// With `own`, Switchboard's authorization server and the resource
    /// the request is for: a token it issued is checked by it, and must be
    /// for that resource.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        addr: &str,
        own: Option<(&AuthorizationServer, &str)>,
    ) -> Result<Principal, AuthFailure> {
        let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return self.anonymous(addr).ok_or(AuthFailure::Missing);
        };
        if values.next().is_some() {
            return Err(AuthFailure::Malformed(
                "more than one Authorization header".into(),
            ));
        }
        let token = bearer(value)?;
        if let Some((server, resource)) = own
            && looks_like_jwt(token)
            && unverified_issuer(token).is_some_and(|iss| server.issued(&iss))
        {
            return self.by_own_token(server, token, resource, addr).await;
        }
        if looks_like_jwt(token) && !self.jwt.is_empty() {
            self.by_jwt(token, addr).await
        } else {
            self.by_api_key(token, addr)
        }
    }

    fn anonymous(&self, addr: &str) -> Option<Principal> {
        Some(Principal {
            tenant: self.anonymous.clone()?,
            subject: Arc::from(ANONYMOUS),
            scopes: Arc::from([]),
            via: Via::Anonymous,
            addr: addr.to_owned(),
            metadata_url: Arc::from(""),
            token: None,
            claims: None,
            server: None,
        })
    }

    fn by_api_key(&self, token: &str, addr: &str) -> Result<Principal, AuthFailure> {
        let entry = self
            .keys
            .verify(token)
            .ok_or_else(|| AuthFailure::Invalid("unknown or revoked credential".into()))?;
        let tenant = self
            .by_id
            .get(entry.tenant.as_str())
            .ok_or_else(|| AuthFailure::Invalid("unknown tenant".into()))?;
        Ok(Principal {
            tenant: tenant.clone(),
            subject: Arc::from(entry.id.as_str()),
            scopes: Arc::from([]),
            via: Via::ApiKey,
            addr: addr.to_owned(),
            metadata_url: Arc::from(""),
            token: None,
            claims: None,
            server: None,
        })
    }

    async fn by_jwt(&self, token: &str, addr: &str) -> Result<Principal, AuthFailure> {
        // The issuer picks the verifier; the verifier then checks it again
        // with the signature.
        let issuer = unverified_issuer(token).unwrap_or_default();
        let verifier = match self.jwt.as_slice() {
            [only] => only,
            many => many
                .iter()
                .find(|v| v.issuer() == issuer)
                .ok_or_else(|| AuthFailure::Invalid("token from an unknown issuer".into()))?,
        };
        let claims = verifier.verify(token).await.map_err(|e: JwtError| {
            if e.is_unavailable() {
                AuthFailure::Unavailable(e.description())
            } else {
                AuthFailure::Invalid(e.description())
            }
        })?;
        self.by_claims(claims, verifier.issuer(), verifier.tenants(), token, addr)
    }

    /// A token Switchboard's own authorization server issued for
    /// `resource`.
    async fn by_own_token(
        &self,
        server: &AuthorizationServer,
        token: &str,
        resource: &str,
        addr: &str,
    ) -> Result<Principal, AuthFailure> {
        let claims = server.verify(token, resource).await.map_err(|e| match e {
            JwtError::WrongAudience => {
                AuthFailure::Invalid(format!("the token is not for {resource}"))
            }
            e if e.is_unavailable() => AuthFailure::Unavailable(e.description()),
            e => AuthFailure::Invalid(e.description()),
        })?;
        self.by_claims(claims, server.issuer(), &[], token, addr)
    }

    /// The principal a verified token's claims name, if its tenant is
    /// configured (and among `allowed`, unless empty).
    fn by_claims(
        &self,
        claims: switchboard_auth::Claims,
        issuer: &str,
        allowed: &[String],
        token: &str,
        addr: &str,
    ) -> Result<Principal, AuthFailure> {
        let tenant = self
            .by_id
            .get(claims.tenant.as_str())
            .filter(|t| &*t.id != ANONYMOUS)
            .filter(|t| allowed.is_empty() || allowed.iter().any(|a| **a == *t.id))
            .ok_or_else(|| AuthFailure::Invalid("the token names an unknown tenant".into()))?;
        Ok(Principal {
            tenant: tenant.clone(),
            subject: Arc::from(claims.subject.as_str()),
            scopes: Arc::from(claims.scopes),
            claims: Some(claims.all),
            server: None,
            via: Via::Jwt(Arc::from(issuer)),
            addr: addr.to_owned(),
            metadata_url: Arc::from(""),
            token: Some(Arc::new(switchboard_secret::ClientToken {
                token: token.into(),
                expires_at: claims.expires_at,
            })),
        })
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive).
pub(super) fn bearer(value: &http::HeaderValue) -> Result<&str, AuthFailure> {
    if value.len() > MAX_CREDENTIAL {
        return Err(AuthFailure::Malformed(
            "Authorization header too long".into(),
        ));
    }
    let text = value
        .to_str()
        .map_err(|_| AuthFailure::Malformed("Authorization header is not text".into()))?;
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::Malformed(
            "expected Authorization: Bearer <token>".into(),
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthFailure::Malformed("empty bearer token".into()));
    }
    Ok(token)
}

/// The `iss` of a JWT's payload, read without checking the signature (only
/// to choose which issuer's verifier checks it).
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod properties;
