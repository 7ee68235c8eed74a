//! The admin credential: a bearer token whose SHA-256 digest is configured
//! as `[admin] token_sha256`, compared in constant time (the API-key code
//! of `switchboard-auth`).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use switchboard_auth::{ApiKeyEntry, ApiKeys};
use switchboard_config::Config;

use super::{Admin, error};

/// The configured admin token's digest, ready to check tokens against.
pub(super) fn compile(config: &Config) -> Option<ApiKeys> {
    let digest = config.admin.token_sha256.as_ref()?;
    ApiKeys::new(vec![ApiKeyEntry {
        tenant: "admin".into(),
        id: "admin".into(),
        sha256: digest.expose().to_ascii_lowercase(),
    }])
    .map_err(|e| tracing::error!("the admin token digest cannot be used: {e}"))
    .ok()
}

/// 401 with a `WWW-Authenticate: Bearer` challenge unless the request
/// carries the admin token.
pub(super) async fn require_token(
    State(admin): State<Admin>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    // Compiled per request (a digest decode): admin requests are few, and
    // a reloaded token applies at once.
    let ok = match (compile(&admin.ops.config()), presented) {
        (Some(keys), Some(token)) => keys.verify(token).is_some(),
        _ => false,
    };
    if ok {
        return next.run(req).await;
    }
    let message = if presented.is_none() {
        "the admin API needs the admin bearer token"
    } else {
        "the admin bearer token is not valid"
    };
    let mut resp = error(StatusCode::UNAUTHORIZED, message);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"switchboard-admin\""),
    );
    resp
}
