//! The one place the authorization server's refusals become HTTP: the
//! error responses of RFC 6749 §5.2 (token, revocation) and RFC 7591 §3.2.2
//! (registration), as JSON with `no-store`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use switchboard_store::StoreError;

/// A refusal: its RFC error code, what was wrong (never a credential) and
/// the status it is sent with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The error code (`invalid_request`, `invalid_grant`, …).
    pub code: &'static str,
    /// What was wrong.
    pub description: String,
    /// The HTTP status.
    pub status: StatusCode,
    /// A DPoP nonce to retry with (`DPoP-Nonce`, RFC 9449 §8).
    pub dpop_nonce: Option<String>,
}

impl OAuthError {
    fn new(code: &'static str, status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            status,
            dpop_nonce: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn request(why: impl Into<String>) -> Self {
        Self::new("invalid_request", StatusCode::BAD_REQUEST, why)
    }

    /// 400 `invalid_grant`: a code or refresh token that is not (or no
    /// longer) good, or a verifier that does not match.
    pub fn grant(why: impl Into<String>) -> Self {
        Self::new("invalid_grant", StatusCode::BAD_REQUEST, why)
    }

    /// 401 `invalid_client`.
    pub fn client(why: impl Into<String>) -> Self {
        Self::new("invalid_client", StatusCode::UNAUTHORIZED, why)
    }

    /// 400 `unauthorized_client`.
    pub fn unauthorized_client(why: impl Into<String>) -> Self {
        Self::new("unauthorized_client", StatusCode::BAD_REQUEST, why)
    }

    /// 400 `unsupported_grant_type`.
    pub fn grant_type(why: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", StatusCode::BAD_REQUEST, why)
    }

    /// 400 `invalid_scope`.
    pub fn scope(why: impl Into<String>) -> Self {
        Self::new("invalid_scope", StatusCode::BAD_REQUEST, why)
    }

    /// 400 `invalid_target` (RFC 8707 §2).
    pub fn target(why: impl Into<String>) -> Self {
        Self::new("invalid_target", StatusCode::BAD_REQUEST, why)
    }

    /// 400 `invalid_redirect_uri` (RFC 7591 §3.2.2).
    pub fn redirect_uri(why: impl Into<String>) -> Self {
        Self::new("invalid_redirect_uri", StatusCode::BAD_REQUEST, why)
    }

    /// 400 `invalid_client_metadata` (RFC 7591 §3.2.2).
    pub fn client_metadata(why: impl Into<String>) -> Self {
        Self::new("invalid_client_metadata", StatusCode::BAD_REQUEST, why)
    }

    /// 401 `invalid_token` (registration without the initial access
    /// token).
    pub fn token(why: impl Into<String>) -> Self {
        Self::new("invalid_token", StatusCode::UNAUTHORIZED, why)
    }

    /// 403 `access_denied`.
    pub fn denied(why: impl Into<String>) -> Self {
        Self::new("access_denied", StatusCode::FORBIDDEN, why)
    }

    /// 400 `invalid_dpop_proof`, or `use_dpop_nonce` with the nonce to
    /// retry with (RFC 9449 §5, §8).
    pub fn dpop(e: crate::dpop::DpopError) -> Self {
        match e {
            crate::dpop::DpopError::Invalid(why) => {
                Self::new("invalid_dpop_proof", StatusCode::BAD_REQUEST, why)
            }
            crate::dpop::DpopError::UseNonce(nonce) => Self {
                dpop_nonce: Some(nonce),
                ..Self::new(
                    "use_dpop_nonce",
                    StatusCode::BAD_REQUEST,
                    "retry with the DPoP-Nonce given",
                )
            },
        }
    }

    /// 429 `temporarily_unavailable`: over a limit of the node's.
    pub fn too_many(why: impl Into<String>) -> Self {
        Self::new(
            "temporarily_unavailable",
            StatusCode::TOO_MANY_REQUESTS,
            why,
        )
    }

    /// 503 `temporarily_unavailable`: the store failed.
    pub fn unavailable(why: impl Into<String>) -> Self {
        Self::new(
            "temporarily_unavailable",
            StatusCode::SERVICE_UNAVAILABLE,
            why,
        )
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "oauth: the store failed");
        Self::unavailable("the store is unavailable; try again")
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code,
            "error_description": self.description,
        });
        let mut resp = (self.status, no_store_json(body)).into_response();
        if let Some(n) = self
            .dpop_nonce
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            resp.headers_mut().insert("dpop-nonce", n);
        }
        // A client's credentials are Basic (RFC 6749 §5.2); a registration
        // token is a bearer token (RFC 6750 §3).
        let challenge = match self.code {
            "invalid_client" => Some("Basic realm=\"switchboard\""),
            "invalid_token" => Some("Bearer error=\"invalid_token\""),
            _ => None,
        };
        if let Some(c) = challenge.filter(|_| self.status == StatusCode::UNAUTHORIZED) {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        resp
    }
}

/// A JSON body that is never cached (RFC 6749 §5.1).
pub(crate) fn no_store_json(body: serde_json::Value) -> Response {
    let mut resp = body.to_string().into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}
