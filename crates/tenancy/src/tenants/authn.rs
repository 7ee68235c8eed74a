//! Authenticating one request: the `Authorization: Bearer` header, checked
//! as a JWT or an API key, mapped to a tenant.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use switchboard_auth::{JwtError, looks_like_jwt};
use switchboard_config::ANONYMOUS;
use switchboard_oauth::AuthorizationServer;
use switchboard_oauth::dpop::DpopError;

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
    /// A DPoP-bound token without a good proof: 401 `invalid_dpop_proof`,
    /// or `use_dpop_nonce` (RFC 9449 §7.1, §9).
    Dpop(DpopError),
}

/// Switchboard's own authorization server, and the request it checks a
/// token for: the resource, and the method and path (for DPoP proofs).
#[derive(Debug, Clone, Copy)]
pub struct Own<'a> {
    /// The server.
    pub server: &'a AuthorizationServer,
    /// The resource the request is for.
    pub resource: &'a str,
    /// The request's method and path, where known.
    pub request: Option<(&'a str, &'a str)>,
}

impl AuthFailure {
    /// The audit trail's short name of the failure.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing_credential",
            AuthFailure::Invalid(_) => "invalid_token",
            AuthFailure::Malformed(_) => "invalid_request",
            AuthFailure::Unavailable(_) => "keys_unavailable",
            AuthFailure::Dpop(DpopError::Invalid(_)) => "invalid_dpop_proof",
            AuthFailure::Dpop(DpopError::UseNonce(_)) => "use_dpop_nonce",
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
        own: Option<Own<'_>>,
    ) -> Result<Principal, AuthFailure> {
        let (principal, bound) = self.credential(headers, addr, own).await?;
        if principal.tenant.require_dpop && !bound {
            return Err(AuthFailure::Dpop(DpopError::Invalid(
                "this tenant accepts only DPoP-bound tokens".into(),
            )));
        }
        Ok(principal)
    }

    /// Who the request's credential names, and whether it is a DPoP-bound
    /// token proven by its key.
    async fn credential(
        &self,
        headers: &HeaderMap,
        addr: &str,
        own: Option<Own<'_>>,
    ) -> Result<(Principal, bool), AuthFailure> {
        let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return self
                .anonymous(addr)
                .map(|p| (p, false))
                .ok_or(AuthFailure::Missing);
        };
        if values.next().is_some() {
            return Err(AuthFailure::Malformed(
                "more than one Authorization header".into(),
            ));
        }
        let (dpop, token) = scheme(value)?;
        if dpop {
            let own = own.ok_or_else(|| {
                AuthFailure::Malformed("DPoP tokens are not accepted here".into())
            })?;
            return self
                .by_dpop(own, headers, token, addr)
                .await
                .map(|p| (p, true));
        }
        if let Some(own) = own
            && looks_like_jwt(token)
            && unverified_issuer(token).is_some_and(|iss| own.server.issued(&iss))
        {
            let p = self
                .by_own_token(own.server, token, own.resource, addr)
                .await?;
            if p.claims.as_ref().is_some_and(|c| c.contains_key("cnf")) {
                return Err(AuthFailure::Invalid(
                    "a DPoP-bound token must be sent with Authorization: DPoP and a proof".into(),
                ));
            }
            return Ok((p, false));
        }
        let p = if looks_like_jwt(token) && !self.jwt.is_empty() {
            self.by_jwt(token, addr).await?
        } else {
            self.by_api_key(token, addr)?
        };
        Ok((p, false))
    }

    /// A DPoP-bound token of Switchboard's own authorization server, with
    /// a proof for this request by the key it is bound to.
    async fn by_dpop(
        &self,
        own: Own<'_>,
        headers: &HeaderMap,
        token: &str,
        addr: &str,
    ) -> Result<Principal, AuthFailure> {
        let invalid = |why: &str| AuthFailure::Dpop(DpopError::Invalid(why.to_owned()));
        let mut proofs = headers.get_all("dpop").iter();
        let proof = match (proofs.next(), proofs.next()) {
            (Some(p), None) => p.to_str().map_err(|_| invalid("the proof is not text"))?,
            (None, _) => return Err(invalid("a DPoP proof is required")),
            (Some(_), Some(_)) => return Err(invalid("more than one DPoP header")),
        };
        let (method, path) = own
            .request
            .ok_or_else(|| invalid("DPoP is not accepted at this endpoint"))?;
        let (origin, _) = super::split_origin(own.resource);
        let url = format!("{origin}{path}");
        let request = switchboard_oauth::dpop::Request {
            method,
            url: &url,
            access_token: Some(token),
        };
        let jkt = own
            .server
            .check_dpop(proof, request)
            .map_err(AuthFailure::Dpop)?;
        let p = self
            .by_own_token(own.server, token, own.resource, addr)
            .await?;
        let bound = p
            .claims
            .as_ref()
            .and_then(|c| c.get("cnf"))
            .and_then(|c| c.get("jkt"))
            .and_then(|j| j.as_str());
        if bound != Some(jkt.as_str()) {
            return Err(invalid("the token is not bound to the proof's key"));
        }
        Ok(p)
    }

    fn anonymous(&self, addr: &str) -> Option<Principal> {
        Some(Principal {
            tenant: self.anonymous.clone()?,
            subject: shared().anonymous.clone(),
            scopes: shared().no_scopes.clone(),
            via: Via::Anonymous,
            addr: addr.to_owned(),
            metadata_url: shared().empty.clone(),
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
            scopes: shared().no_scopes.clone(),
            via: Via::ApiKey,
            addr: addr.to_owned(),
            metadata_url: shared().empty.clone(),
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
            metadata_url: shared().empty.clone(),
            token: Some(Arc::new(switchboard_secret::ClientToken {
                token: token.into(),
                expires_at: claims.expires_at,
            })),
        })
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive).
pub(super) fn bearer(value: &http::HeaderValue) -> Result<&str, AuthFailure> {
    match scheme(value)? {
        (false, token) => Ok(token),
        (true, _) => Err(AuthFailure::Malformed(
            "expected Authorization: Bearer <token>".into(),
        )),
    }
}

/// The token of `Bearer <token>` or `DPoP <token>` (case-insensitive
/// schemes), and whether it is DPoP.
fn scheme(value: &http::HeaderValue) -> Result<(bool, &str), AuthFailure> {
    if value.len() > MAX_CREDENTIAL {
        return Err(AuthFailure::Malformed(
            "Authorization header too long".into(),
        ));
    }
    let text = value
        .to_str()
        .map_err(|_| AuthFailure::Malformed("Authorization header is not text".into()))?;
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    if !dpop && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthFailure::Malformed(
            "expected Authorization: Bearer <token>".into(),
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthFailure::Malformed("empty bearer token".into()));
    }
    Ok((dpop, token))
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

/// Values many principals carry, made once and shared (each was an
/// allocation per request).
struct Shared {
    anonymous: Arc<str>,
    no_scopes: Arc<[String]>,
    empty: Arc<str>,
}

fn shared() -> &'static Shared {
    static SHARED: std::sync::LazyLock<Shared> = std::sync::LazyLock::new(|| Shared {
        anonymous: Arc::from(ANONYMOUS),
        no_scopes: Arc::from([]),
        empty: Arc::from(""),
    });
    &SHARED
}
