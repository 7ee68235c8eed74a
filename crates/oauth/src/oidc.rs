//! Switchboard as an OpenID Connect relying party of the company's
//! identity provider: where users sign in when `[oauth.oidc]` is set.
//!
//! The provider's endpoints come from its discovery document (fetched on
//! first use and kept an hour; its `issuer` must be the configured one).
//! A sign-in is the code flow with PKCE S256 and a nonce; the ID token is
//! checked against the provider's JWKS (signature, `iss`, `aud` = our
//! client id, `exp`) and the nonce; then the rules map its claims to a
//! tenant, a subject and the scopes the user may grant.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use switchboard_auth::{JwtConfig, JwtVerifier};
use switchboard_policy::{Condition, Facts};

use crate::config::OidcConfig;
use crate::error::OAuthError;
use crate::users::Grantee;

/// How long a discovery document is kept.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// Largest answer read from the provider.
const MAX_ANSWER: usize = 256 * 1024;

/// What a sign-in at the provider must come back with, kept with the
/// pending request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Leg {
    pub(crate) nonce: String,
    pub(crate) verifier: String,
    /// The SHA-256 of the cookie set on the browser that left: only that
    /// browser may come back.
    pub(crate) browser: String,
}

impl Leg {
    /// Whether `browser` (the cookie a request carries) is the one the
    /// sign-in left with.
    pub(crate) fn same_browser(&self, browser: Option<&str>) -> Result<(), OAuthError> {
        let same = browser.is_some_and(|b| {
            subtle::ConstantTimeEq::ct_eq(digest(b).as_bytes(), self.browser.as_bytes()).into()
        });
        if same {
            Ok(())
        } else {
            Err(OAuthError::denied(
                "this sign-in was started in another browser",
            ))
        }
    }
}

/// The provider's endpoints.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// A discovery document, when it was fetched, and a verifier of the
/// provider's ID tokens.
type Discovered = (Instant, Arc<Discovery>, Arc<JwtVerifier>);

/// A rule, compiled.
#[derive(Debug)]
struct Rule {
    when: Option<Condition>,
    tenant: Option<String>,
    tenant_claim: Option<String>,
    scopes: Vec<String>,
}

/// The relying party.
#[derive(Debug)]
pub(crate) struct Oidc {
    config: OidcConfig,
    redirect_uri: String,
    http: reqwest::Client,
    rules: Vec<Rule>,
    discovered: Mutex<Option<Discovered>>,
}

impl Oidc {
    /// A relying party for `config` (validated), called back at
    /// `redirect_uri`.
    pub(crate) fn new(config: &OidcConfig, redirect_uri: String) -> Result<Self, String> {
        let rules = config
            .rules
            .iter()
            .map(|r| {
                Ok(Rule {
                    when: r.when.as_deref().map(Condition::compile).transpose()?,
                    tenant: r.tenant.clone(),
                    tenant_claim: r.tenant_claim.clone(),
                    scopes: r.scopes.clone(),
                })
            })
            .collect::<Result<_, switchboard_policy::CompileError>>()
            .map_err(|e| format!("oauth.oidc.rules: {e}"))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(config.timeout_ms))
            .build()
            .map_err(|e| format!("oauth.oidc: HTTP client: {e}"))?;
        Ok(Self {
            config: config.clone(),
            redirect_uri,
            http,
            rules,
            discovered: Mutex::new(None),
        })
    }

    /// The provider's endpoints and a verifier of its ID tokens.
    async fn discovery(&self) -> Result<(Arc<Discovery>, Arc<JwtVerifier>), OAuthError> {
        if let Some((at, d, v)) = &*self.discovered.lock()
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok((d.clone(), v.clone()));
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let body = self.fetch(self.http.get(&url)).await?;
        let d: Discovery = serde_json::from_slice(&body)
            .map_err(|e| idp(format!("its discovery document is not valid: {e}")))?;
        if d.issuer != self.config.issuer {
            return Err(idp(format!(
                "its discovery document names issuer {:?}",
                d.issuer
            )));
        }
        // The verifier's tenant claim is `sub` (always there): the tenant
        // comes from the rules, not from the ID token.
        let verifier = JwtVerifier::new(JwtConfig {
            issuer: d.issuer.clone(),
            audience: vec![self.config.client_id.clone()],
            jwks_url: Some(d.jwks_uri.clone()),
            tenant_claim: "sub".into(),
            timeout_ms: self.config.timeout_ms,
            ..JwtConfig::default()
        })
        .map_err(|e| idp(format!("its jwks_uri cannot be used: {e}")))?;
        let (d, v) = (Arc::new(d), Arc::new(verifier));
        *self.discovered.lock() = Some((Instant::now(), d.clone(), v.clone()));
        Ok((d, v))
    }

    async fn fetch(&self, req: reqwest::RequestBuilder) -> Result<Vec<u8>, OAuthError> {
        let (status, body) = crate::fetch::answer(req, MAX_ANSWER).await.map_err(idp)?;
        if !status.is_success() {
            let why = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            return Err(idp(format!("answered {} {why}", status.as_u16())));
        }
        Ok(body)
    }

    /// Where to send the browser for pending request `txn`, and what it
    /// must come back with (`browser` is the cookie given to it).
    pub(crate) async fn start(
        &self,
        txn: &str,
        browser: &str,
    ) -> Result<(String, Leg), OAuthError> {
        let (d, _) = self.discovery().await?;
        let leg = Leg {
            nonce: crate::random_id(16),
            verifier: crate::random_id(32),
            browser: digest(browser),
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(leg.verifier.as_bytes()));
        let mut url = url::Url::parse(&d.authorization_endpoint)
            .map_err(|_| idp("its authorization endpoint is not a URL".into()))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.config.scopes.join(" "))
            .append_pair("state", txn)
            .append_pair("nonce", &leg.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok((url.to_string(), leg))
    }

    /// Redeem the provider's `code` for the leg `leg` (the browser
    /// presenting cookie `browser`): who signed in.
    pub(crate) async fn finish(
        &self,
        leg: &Leg,
        browser: Option<&str>,
        code: &str,
    ) -> Result<Grantee, OAuthError> {
        leg.same_browser(browser)?;
        let (d, verifier) = self.discovery().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", leg.verifier.as_str()),
        ];
        let mut req = self.http.post(&d.token_endpoint);
        match &self.config.client_secret {
            Some(secret)
                if self.config.token_endpoint_auth
                    == crate::config::TokenEndpointAuth::ClientSecretPost =>
            {
                form.push(("client_id", self.config.client_id.as_str()));
                form.push(("client_secret", secret.expose()));
            }
            Some(secret) => {
                req = req.basic_auth(
                    form_encode(&self.config.client_id),
                    Some(form_encode(secret.expose())),
                );
            }
            None => form.push(("client_id", self.config.client_id.as_str())),
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let answer = self
            .fetch(
                req.header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body),
            )
            .await?;
        let answer: Value = serde_json::from_slice(&answer)
            .map_err(|_| idp("its token answer is not JSON".into()))?;
        let id_token = answer
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| idp("its token answer has no id_token".into()))?;
        let claims = verifier
            .verify(id_token)
            .await
            .map_err(|e| idp(format!("its ID token is not valid: {}", e.description())))?;
        if claims.all.get("nonce").and_then(Value::as_str) != Some(leg.nonce.as_str()) {
            return Err(idp("its ID token's nonce is not ours".into()));
        }
        self.grantee(&claims.all)
    }

    /// The tenant, subject and scopes the first rule that admits these
    /// claims gives.
    pub(crate) fn grantee(&self, claims: &Map<String, Value>) -> Result<Grantee, OAuthError> {
        let subject = claims
            .get(&self.config.subject_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                OAuthError::denied(format!(
                    "the identity provider did not give a {}",
                    self.config.subject_claim
                ))
            })?;
        let empty = Value::Object(Map::new());
        let facts = Facts {
            method: "",
            name: "",
            args: &empty,
            annotations: &empty,
            tenant: "",
            subject,
            scopes: &[],
            claims,
        };
        for rule in &self.rules {
            // A rule that cannot decide (a claim missing) does not admit.
            if !rule
                .when
                .as_ref()
                .is_none_or(|c| c.holds(&facts).unwrap_or(false))
            {
                continue;
            }
            let tenant = match (&rule.tenant, &rule.tenant_claim) {
                (Some(t), _) => Some(t.clone()),
                (None, Some(c)) => claims.get(c).and_then(Value::as_str).map(str::to_owned),
                (None, None) => None,
            };
            if let Some(tenant) = tenant {
                return Ok(Grantee {
                    subject: subject.to_owned(),
                    tenant,
                    scopes: rule.scopes.clone(),
                });
            }
        }
        Err(OAuthError::denied("your account is not admitted here"))
    }
}

/// An error of the provider's: what went wrong there, for the page.
fn idp(why: String) -> OAuthError {
    tracing::warn!(reason = %why, "oauth: the identity provider failed");
    OAuthError::unavailable(format!("the identity provider {why}"))
}

fn digest(s: &str) -> String {
    crate::hex(&Sha256::digest(s.as_bytes()))
}

/// RFC 6749 §2.3.1: client credentials are form-encoded before Basic.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::OidcRule;

    fn rp(rules: Vec<OidcRule>) -> Oidc {
        let config = OidcConfig {
            issuer: "https://idp.example.com".into(),
            client_id: "sb".into(),
            rules,
            ..OidcConfig::default()
        };
        Oidc::new(&config, "https://sb.example.com/oauth/callback".into()).unwrap()
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn rules_map_claims_to_tenants() {
        let rp = rp(vec![
            OidcRule {
                when: Some(r#""admins" in claims.groups"#.into()),
                tenant: Some("ops".into()),
                tenant_claim: None,
                scopes: vec!["admin".into()],
            },
            OidcRule {
                when: Some(r#"claims.email.endsWith("@acme.com")"#.into()),
                tenant: Some("acme".into()),
                tenant_claim: None,
                scopes: vec!["tools".into()],
            },
            OidcRule {
                when: None,
                tenant: None,
                tenant_claim: Some("org".into()),
                scopes: vec![],
            },
        ]);
        let g = rp
            .grantee(&claims(
                json!({"sub": "u1", "email": "a@acme.com", "groups": ["admins"]}),
            ))
            .unwrap();
        assert_eq!(
            (g.tenant.as_str(), g.scopes),
            ("ops", vec!["admin".to_owned()])
        );
        // A rule that cannot decide (no `groups`) does not admit.
        let g = rp
            .grantee(&claims(json!({"sub": "u2", "email": "b@acme.com"})))
            .unwrap();
        assert_eq!((g.subject.as_str(), g.tenant.as_str()), ("u2", "acme"));
        let g = rp
            .grantee(&claims(
                json!({"sub": "u3", "email": "c@x.com", "org": "x"}),
            ))
            .unwrap();
        assert_eq!(g.tenant, "x");
        assert!(
            rp.grantee(&claims(json!({"sub": "u4", "email": "d@x.com"})))
                .is_err()
        );
        assert!(rp.grantee(&claims(json!({"email": "a@acme.com"}))).is_err());
    }
}
