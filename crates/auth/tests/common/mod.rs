//! Shared setup of the JWT integration tests.

#![allow(dead_code)]

use serde_json::Value;
use switchboard_auth::testing::{self, JwksServer, TestKeys};
use switchboard_auth::{JwtConfig, JwtVerifier};

pub const ISS: &str = "https://idp.test";
pub const AUD: &str = "https://mcp.test/mcp";

/// Claims that verify: tenant `acme`, subject `alice`.
pub fn claims() -> Value {
    testing::claims(ISS, AUD, "acme", "alice")
}

/// `claims()` with `key` set to `value` (or removed when `value` is null).
pub fn claims_with(key: &str, value: Value) -> Value {
    let mut c = claims();
    if value.is_null() {
        c.as_object_mut().unwrap().remove(key);
    } else {
        c[key] = value;
    }
    c
}

/// A configuration for `ISS`/`AUD` with the keys at `url`.
pub fn url_config(url: &str) -> JwtConfig {
    JwtConfig {
        issuer: ISS.into(),
        audience: vec!["other".into(), AUD.into()],
        jwks_url: Some(url.into()),
        ..JwtConfig::default()
    }
}

/// A JWKS server with `kids`, and a verifier of its keys.
pub async fn served(kids: &[&str]) -> (TestKeys, JwksServer, JwtVerifier) {
    served_with(kids, |_| {}).await
}

/// Like `served`, with the configuration adjusted by `tweak`.
pub async fn served_with(
    kids: &[&str],
    tweak: impl FnOnce(&mut JwtConfig),
) -> (TestKeys, JwksServer, JwtVerifier) {
    let keys = TestKeys::load();
    let server = JwksServer::start(keys.jwks_json(kids)).await;
    let mut config = url_config(&server.url());
    tweak(&mut config);
    let verifier = JwtVerifier::new(config).expect("valid config");
    (keys, server, verifier)
}
