//! The authorization server: its metadata, the authorization request and
//! the sign-in that answers it, the token endpoint's grants, revocation,
//! and the check of the access tokens it issued.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};
use switchboard_auth::{Claims, JwtError, JwtVerifier};
use switchboard_identity::Vault;
use switchboard_store::EntryStore;

use crate::client::Client;
use crate::clients::Clients;
use crate::config::OAuthConfig;
use crate::error::OAuthError;
use crate::grants::{Code, Family, Grantee, Grants, Pending, Taken, pkce_matches};
use crate::keys::{KeyRing, RELOAD_EVERY};
use crate::params::Params;
use crate::paths::{AUTHORIZE, CALLBACK, JWKS, REGISTER, REVOKE, TOKEN};
use crate::users::{User, Users};
use crate::{now, urls};

/// Least time between two reloads of the keys for an unknown `kid`.
const MISS_RELOAD: Duration = Duration::from_secs(5);

/// Why an authorization request is refused.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Before the client and its redirect URI are known good: shown to
    /// the user, never sent anywhere (no open redirect).
    Page(String),
    /// Sent back to the client's redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

/// Switchboard's authorization server.
#[derive(Debug)]
pub struct AuthorizationServer {
    issuer: String,
    config: OAuthConfig,
    /// Resources tokens may be for; the first is the default.
    resources: Vec<String>,
    scopes: Vec<String>,
    pub(crate) clients: Clients,
    users: Users,
    oidc: Option<crate::oidc::Oidc>,
    /// The configured tenants: a sign-in must name one.
    tenants: Vec<String>,
    pub(crate) grants: Grants,
    keys: KeyRing,
    dpop: crate::dpop::Dpop,
    pub(crate) throttle: crate::throttle::Throttle,
    verifier: JwtVerifier,
    last_miss_reload: Mutex<Option<Instant>>,
}

impl AuthorizationServer {
    /// The server for `config` (validated), issuing tokens for
    /// `resources` (the first is the default one), advertising `scopes`
    /// (every scope its tokens may carry), to users of `tenants`; grants
    /// and registered clients in `store`,
    /// signing keys sealed in `vault` (in memory without one: one node
    /// only). Loads or makes the signing keys, and keeps them fresh in the
    /// background while the server lives.
    pub async fn start(
        config: &OAuthConfig,
        resources: Vec<String>,
        scopes: Vec<String>,
        tenants: Vec<String>,
        store: Arc<dyn EntryStore>,
        vault: Option<Arc<Vault>>,
    ) -> Result<Arc<Self>, String> {
        if resources.is_empty() {
            return Err("oauth: no resource to issue tokens for".into());
        }
        let keys = KeyRing::new(vault, config.key_rotation_secs, config.access_token_secs);
        keys.refresh().await?;
        let verifier = JwtVerifier::with_shared_keys(
            config.issuer.clone(),
            resources.clone(),
            // Every node's clock; a little skew, no more.
            5,
            keys.shared(),
        );
        let oidc = config
            .oidc
            .as_ref()
            .map(|o| crate::oidc::Oidc::new(o, format!("{}{CALLBACK}", config.issuer)))
            .transpose()?;
        let server = Arc::new(Self {
            oidc,
            tenants,
            issuer: config.issuer.clone(),
            clients: Clients::new(config, store.clone()),
            users: Users::new(&config.users),
            grants: Grants::new(store),
            config: config.clone(),
            resources,
            scopes,
            dpop: crate::dpop::Dpop::new(config.dpop_nonce),
            throttle: crate::throttle::Throttle::default(),
            keys,
            verifier,
            last_miss_reload: Mutex::new(None),
        });
        server.share_nonce_key();
        tokio::spawn(upkeep(Arc::downgrade(&server)));
        Ok(server)
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The authorization server metadata (RFC 8414).
    pub fn metadata(&self) -> Value {
        let at = |path: &str| format!("{}{path}", self.issuer);
        let mut m = json!({
            "issuer": self.issuer,
            "authorization_endpoint": at(AUTHORIZE),
            "token_endpoint": at(TOKEN),
            "revocation_endpoint": at(REVOKE),
            "jwks_uri": at(JWKS),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported":
                ["none", "client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported":
                ["none", "client_secret_basic", "client_secret_post"],
            "scopes_supported": self.scopes,
            "authorization_response_iss_parameter_supported": true,
            "dpop_signing_alg_values_supported": crate::dpop::ALGORITHMS,
            "client_id_metadata_document_supported": self.clients.documents_on(),
        });
        if self.clients.registration_on() {
            m["registration_endpoint"] = json!(at(REGISTER));
        }
        m
    }

    /// The public signing keys (JWKS).
    pub fn jwks(&self) -> Value {
        self.keys.jwks()
    }

    /// Check an access token this server issued, presented at `resource`:
    /// its signature, lifetime and that it is for that resource.
    pub async fn verify(&self, token: &str, resource: &str) -> Result<Claims, JwtError> {
        let claims = match self.verifier.verify(token).await {
            Err(JwtError::UnknownKey(_)) if self.may_reload_for_miss() => {
                if let Err(e) = self.keys.refresh().await {
                    tracing::warn!(error = %e, "oauth: cannot reload the signing keys");
                }
                self.verifier.verify(token).await?
            }
            other => other?,
        };
        match claims.all.get("aud").and_then(Value::as_str) {
            Some(aud) if same_resource(aud, resource) => Ok(claims),
            _ => Err(JwtError::WrongAudience),
        }
    }

    fn share_nonce_key(&self) {
        if let Some(k) = self.keys.shared_secret() {
            self.dpop.set_nonce_key(&k);
        }
    }

    /// Check a DPoP proof for a request to a resource: the thumbprint of
    /// the key that made it.
    pub fn check_dpop(
        &self,
        proof: &str,
        req: crate::dpop::Request<'_>,
    ) -> Result<String, crate::dpop::DpopError> {
        self.dpop.check(proof, req)
    }

    /// Whether the token `token` looks like one of this server's (its
    /// unverified `iss`).
    pub fn issued(&self, unverified_iss: &str) -> bool {
        unverified_iss == self.issuer
    }

    fn may_reload_for_miss(&self) -> bool {
        let mut last = self.last_miss_reload.lock();
        if last.is_some_and(|t| t.elapsed() < MISS_RELOAD) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// Whether anyone can sign in: at the identity provider, or from the
    /// user list.
    pub(crate) fn can_sign_in(&self) -> bool {
        self.oidc.is_some() || !self.users.is_empty()
    }

    /// With an identity provider: where the browser goes to sign in for
    /// pending request `txn`, and the cookie it must come back with.
    pub(crate) async fn to_idp(&self, txn: &str) -> Result<Option<(String, String)>, OAuthError> {
        let Some(oidc) = &self.oidc else {
            return Ok(None);
        };
        let mut pending = self
            .grants
            .pending(txn)
            .await?
            .ok_or_else(|| OAuthError::request("the sign-in expired; start again"))?;
        let browser = crate::random_id(24);
        let (url, leg) = oidc.start(txn, &browser).await?;
        pending.idp = Some(leg);
        self.grants.update(txn, &pending).await?;
        Ok(Some((url, browser)))
    }

    /// The identity provider sent the browser back (`state` is the
    /// pending request): the request, now with its user. An error the
    /// provider reports goes back to the client as `Err(Ok(url))`.
    pub(crate) async fn back_from_idp(
        &self,
        q: &Params,
        browser: Option<&str>,
    ) -> Result<(String, Pending), Result<String, OAuthError>> {
        let req = |e: String| -> Result<String, OAuthError> { Err(OAuthError::request(e)) };
        let oidc = self
            .oidc
            .as_ref()
            .ok_or_else(|| Err(OAuthError::request("no identity provider".to_owned())))?;
        let txn = q.get("state").map_err(req)?.unwrap_or_default().to_owned();
        let mut pending = self
            .grants
            .pending(&txn)
            .await
            .map_err(Err)?
            .ok_or_else(|| Err(OAuthError::request("the sign-in expired; start again")))?;
        let leg = pending.idp.clone().ok_or_else(|| {
            Err(OAuthError::request(
                "this sign-in did not go to the identity provider",
            ))
        })?;
        leg.same_browser(browser).map_err(Err)?;
        if let Some(error) = q.get("error").map_err(req)? {
            self.grants.finish(&txn).await.map_err(Err)?;
            let why = format!("the identity provider answered {error}");
            let params = vec![
                ("error", "access_denied".to_owned()),
                ("error_description", why),
            ];
            return Err(Ok(self.redirect(
                &pending.redirect_uri,
                pending.state.as_deref(),
                params,
            )));
        }
        let code = q
            .get("code")
            .map_err(req)?
            .ok_or_else(|| Err(OAuthError::request("the identity provider sent no code")))?;
        // A user the rules do not admit is sent back to the client with
        // `access_denied` (RFC 6749 §4.1.2.1), not left on a page.
        let admitted = oidc.finish(&leg, browser, code).await.and_then(|who| {
            if self.tenants.contains(&who.tenant) {
                Ok(who)
            } else {
                Err(OAuthError::denied(format!(
                    "your account's tenant {:?} is not served here",
                    who.tenant
                )))
            }
        });
        let mut who = match admitted {
            Ok(who) => who,
            Err(e) if e.code == "access_denied" => {
                self.grants.finish(&txn).await.map_err(Err)?;
                let params = vec![
                    ("error", "access_denied".to_owned()),
                    ("error_description", e.description),
                ];
                let back = self.redirect(&pending.redirect_uri, pending.state.as_deref(), params);
                return Err(Ok(back));
            }
            Err(e) => return Err(Err(e)),
        };
        if let Some(asked) = &pending.scopes {
            who.scopes.retain(|s| asked.contains(s));
        }
        pending.idp = None;
        pending.user = Some(who);
        self.grants.update(&txn, &pending).await.map_err(Err)?;
        Ok((txn, pending))
    }

    /// Check an authorization request (RFC 6749 §4.1.1, PKCE, RFC 8707)
    /// and keep it until the user has signed in: its id, and the client.
    pub(crate) async fn authorize(&self, q: &Params) -> Result<(String, Arc<Client>), Refused> {
        let page = |why: &str| Refused::Page(why.to_owned());
        let client_id = q
            .get("client_id")
            .map_err(|e| page(&e))?
            .ok_or_else(|| page("client_id is missing"))?;
        let client = self
            .clients
            .get(client_id)
            .await
            .map_err(|e| Refused::Page(e.description))?;
        let redirect_uri = match q.get("redirect_uri").map_err(|e| page(&e))? {
            Some(r) if urls::redirect_matches(&client.redirect_uris, r) => r.to_owned(),
            Some(_) => return Err(page("redirect_uri is not one the client registered")),
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => return Err(page("redirect_uri is missing")),
        };
        let state = q.get("state").map_err(|e| page(&e))?.map(str::to_owned);
        let back = |error: &'static str, why: &str| Refused::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
            description: why.to_owned(),
        };
        let pending = self
            .check_request(q, &client, &redirect_uri, state.clone())
            .map_err(|e| back(e.code, &e.description))?;
        if !self.can_sign_in() {
            return Err(back("server_error", "no way to sign in is configured"));
        }
        if let Err(e) = self
            .throttle
            .take(crate::throttle::Kind::Authorize, "")
            .await
        {
            return Err(back(e.code, &e.description));
        }
        let txn = self
            .grants
            .begin(&pending)
            .await
            .map_err(|e| back("temporarily_unavailable", &e.description))?;
        Ok((txn, client))
    }

    fn check_request(
        &self,
        q: &Params,
        client: &Client,
        redirect_uri: &str,
        state: Option<String>,
    ) -> Result<Pending, OAuthError> {
        let req = OAuthError::request;
        match q.get("response_type").map_err(req)? {
            Some("code") => {}
            Some(_) => {
                return Err(OAuthError {
                    code: "unsupported_response_type",
                    ..OAuthError::request("only response_type=code is supported")
                });
            }
            None => return Err(OAuthError::request("response_type is missing")),
        }
        let challenge = q
            .get("code_challenge")
            .map_err(req)?
            .ok_or_else(|| OAuthError::request("code_challenge is required (PKCE)"))?;
        if q.get("code_challenge_method").map_err(req)? != Some("S256") {
            return Err(OAuthError::request("code_challenge_method must be S256"));
        }
        if challenge.len() != 43
            || !challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(OAuthError::request(
                "code_challenge is not a base64url SHA-256",
            ));
        }
        if state.as_ref().is_some_and(|s| s.len() > 1024) {
            return Err(OAuthError::request("state is too long"));
        }
        let resource = self.resource(q.get("resource").map_err(req)?)?;
        let scopes = q.get("scope").map_err(req)?.map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        });
        Ok(Pending {
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            state,
            challenge: challenge.to_owned(),
            resource,
            scopes,
            expires: now() + self.config.login_secs,
            user: None,
            idp: None,
        })
    }

    /// The resource a request names (RFC 8707), one of ours; the default
    /// one if it names none.
    fn resource(&self, asked: Option<&str>) -> Result<String, OAuthError> {
        match asked {
            None => Ok(self.resources[0].clone()),
            Some(r) => self
                .resources
                .iter()
                .find(|ours| same_resource(ours, r))
                .cloned()
                .ok_or_else(|| {
                    OAuthError::target(format!("{r:?} is not a resource of this server"))
                }),
        }
    }

    /// The pending request `txn`, if it is still waiting.
    pub(crate) async fn pending(&self, txn: &str) -> Result<Option<Pending>, OAuthError> {
        self.grants.pending(txn).await
    }

    /// Sign `name` in for the pending request `txn`: who they are.
    pub(crate) async fn sign_in(
        self: &Arc<Self>,
        txn: &str,
        name: &str,
        password: &str,
    ) -> Result<Option<User>, OAuthError> {
        let Some(mut pending) = self.grants.pending(txn).await? else {
            return Err(OAuthError::request("the sign-in expired; start again"));
        };
        self.throttle
            .take(crate::throttle::Kind::SignIn, name)
            .await?;
        let (me, name, password) = (self.clone(), name.to_owned(), password.to_owned());
        let user = tokio::task::spawn_blocking(move || me.users.check(&name, &password))
            .await
            .map_err(|_| OAuthError::unavailable("sign-in failed"))?;
        if let Some(u) = &user {
            let granted = match &pending.scopes {
                Some(asked) => u
                    .scopes
                    .iter()
                    .filter(|s| asked.contains(s))
                    .cloned()
                    .collect(),
                None => u.scopes.clone(),
            };
            pending.user = Some(Grantee {
                subject: u.subject.clone(),
                tenant: u.tenant.clone(),
                scopes: granted,
            });
            self.grants.update(txn, &pending).await?;
        }
        Ok(user)
    }

    /// The user's answer on the consent page: where the browser goes.
    pub(crate) async fn consent(&self, txn: &str, allow: bool) -> Result<String, OAuthError> {
        let Some(p) = self.grants.pending(txn).await? else {
            return Err(OAuthError::request("the sign-in expired; start again"));
        };
        let Some(grantee) = p.user.clone() else {
            return Err(OAuthError::request("sign in first"));
        };
        if !self.grants.finish(txn).await? {
            return Err(OAuthError::request("this sign-in was already answered"));
        }
        let mut params: Vec<(&str, String)> = Vec::new();
        if allow {
            let code = self
                .grants
                .issue_code(&Code {
                    client_id: p.client_id.clone(),
                    redirect_uri: p.redirect_uri.clone(),
                    challenge: p.challenge.clone(),
                    resource: p.resource.clone(),
                    grantee,
                    expires: now() + self.config.code_secs,
                    family: crate::random_id(16),
                })
                .await?;
            params.push(("code", code));
        } else {
            params.push(("error", "access_denied".into()));
            params.push(("error_description", "the user declined".into()));
        }
        Ok(self.redirect(&p.redirect_uri, p.state.as_deref(), params))
    }

    /// `redirect_uri` with the answer, `state` and `iss` (RFC 9207).
    pub(crate) fn redirect(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        mut params: Vec<(&str, String)>,
    ) -> String {
        if let Some(s) = state {
            params.push(("state", s.to_owned()));
        }
        params.push(("iss", self.issuer.clone()));
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        urls::with_query(redirect_uri, &pairs)
    }

    /// The client a consent page names.
    pub(crate) async fn client(&self, id: &str) -> Result<Arc<Client>, OAuthError> {
        self.clients.get(id).await
    }

    /// The token endpoint (RFC 6749 §3.2): the response body.
    pub(crate) async fn token(
        &self,
        form: &Params,
        basic: Option<(String, String)>,
        proof: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let client = self.token_client(form, basic).await?;
        let jkt = match proof {
            None => None,
            Some(p) => {
                let url = format!("{}{TOKEN}", self.issuer);
                let req = crate::dpop::Request {
                    method: "POST",
                    url: &url,
                    access_token: None,
                };
                Some(self.dpop.check(p, req).map_err(OAuthError::dpop)?)
            }
        };
        match form.get("grant_type").map_err(OAuthError::request)? {
            Some("authorization_code") => self.code_grant(form, &client, jkt).await,
            Some("refresh_token") => self.refresh_grant(form, &client, jkt).await,
            Some(g) => Err(OAuthError::grant_type(format!("{g:?} is not supported"))),
            None => Err(OAuthError::request("grant_type is missing")),
        }
    }

    /// The client a token or revocation request is from, authenticated.
    pub(crate) async fn token_client(
        &self,
        form: &Params,
        basic: Option<(String, String)>,
    ) -> Result<Arc<Client>, OAuthError> {
        let in_form = form.get("client_id").map_err(OAuthError::request)?;
        let form_secret = form.get("client_secret").map_err(OAuthError::request)?;
        let (id, secret) = match (&basic, in_form) {
            (Some((id, s)), None | Some(_)) => {
                if in_form.is_some_and(|f| f != id) || form_secret.is_some() {
                    return Err(OAuthError::request("two different client credentials"));
                }
                (id.as_str(), Some(s.as_str()))
            }
            (None, Some(id)) => (id, form_secret),
            (None, None) => return Err(OAuthError::client("client_id is missing")),
        };
        let client = self.clients.get(id).await?;
        client.authenticate(secret)?;
        Ok(client)
    }

    async fn code_grant(
        &self,
        form: &Params,
        client: &Client,
        jkt: Option<String>,
    ) -> Result<Value, OAuthError> {
        let need = |k: &str| -> Result<&str, OAuthError> {
            form.get(k)
                .map_err(OAuthError::request)?
                .ok_or_else(|| OAuthError::request(format!("{k} is missing")))
        };
        let (code, verifier) = (need("code")?, need("code_verifier")?);
        let redirect_uri = form.get("redirect_uri").map_err(OAuthError::request)?;
        let asked_resource = form.get("resource").map_err(OAuthError::request)?;
        let c = self.grants.redeem(code).await?;
        if c.client_id != client.id {
            self.grants.revoke_family(&c.family).await?;
            return Err(OAuthError::grant("the code was issued to another client"));
        }
        if redirect_uri.is_some_and(|r| r != c.redirect_uri) {
            return Err(OAuthError::grant(
                "redirect_uri differs from the authorization request's",
            ));
        }
        if !pkce_matches(verifier, &c.challenge) {
            return Err(OAuthError::grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        if asked_resource.is_some_and(|r| !same_resource(r, &c.resource)) {
            return Err(OAuthError::target(
                "the code was granted for another resource",
            ));
        }
        let refresh = if client.refresh {
            let family = Family {
                client_id: client.id.clone(),
                resource: c.resource.clone(),
                grantee: c.grantee.clone(),
                expires: now() + self.config.refresh_token_secs,
                // A public client's refresh tokens are bound to its key
                // (RFC 9449 §5).
                jkt: jkt.clone().filter(|_| client.is_public()),
            };
            Some(self.grants.start_family(&c.family, &family).await?)
        } else {
            None
        };
        self.answer(
            client,
            &c.resource,
            &c.grantee,
            &c.grantee.scopes,
            refresh,
            jkt,
        )
    }

    async fn refresh_grant(
        &self,
        form: &Params,
        client: &Client,
        jkt: Option<String>,
    ) -> Result<Value, OAuthError> {
        let token = form
            .get("refresh_token")
            .map_err(OAuthError::request)?
            .ok_or_else(|| OAuthError::request("refresh_token is missing"))?;
        let (family_id, f) = match self.grants.take_refresh(token).await? {
            Taken::Current(id, f) => (id, f),
            Taken::Reused => {
                return Err(OAuthError::grant(
                    "the refresh token was already used; the sign-in is revoked",
                ));
            }
            Taken::Unknown => {
                return Err(OAuthError::grant(
                    "unknown, expired or revoked refresh token",
                ));
            }
        };
        if f.client_id != client.id {
            self.grants.revoke_family(&family_id).await?;
            return Err(OAuthError::grant(
                "the refresh token was issued to another client",
            ));
        }
        if f.jkt.is_some() && f.jkt != jkt {
            self.grants.revoke_family(&family_id).await?;
            return Err(OAuthError::grant(
                "the refresh token is bound to a DPoP key this request did not prove",
            ));
        }
        if form
            .get("resource")
            .map_err(OAuthError::request)?
            .is_some_and(|r| !same_resource(r, &f.resource))
        {
            return Err(OAuthError::target("the grant is for another resource"));
        }
        let scopes: Vec<String> = match form.get("scope").map_err(OAuthError::request)? {
            None => f.grantee.scopes.clone(),
            Some(s) => {
                let asked: Vec<String> = s
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let Some(extra) = asked.iter().find(|a| !f.grantee.scopes.contains(a)) {
                    return Err(OAuthError::scope(format!("{extra:?} was not granted")));
                }
                asked
            }
        };
        let next = self.grants.issue_refresh(&family_id, f.expires).await?;
        self.answer(client, &f.resource, &f.grantee, &scopes, Some(next), jkt)
    }

    /// A token response: a signed access token for `resource`, and the
    /// refresh token if there is one.
    fn answer(
        &self,
        client: &Client,
        resource: &str,
        who: &Grantee,
        scopes: &[String],
        refresh: Option<String>,
        jkt: Option<String>,
    ) -> Result<Value, OAuthError> {
        let iat = now();
        let mut claims = json!({
            "iss": self.issuer,
            "sub": who.subject,
            "aud": resource,
            "iat": iat,
            "exp": iat + self.config.access_token_secs,
            "jti": crate::random_id(16),
            "client_id": client.id,
            "tenant": who.tenant,
            "scope": scopes.join(" "),
        });
        if let Some(jkt) = &jkt {
            claims["cnf"] = json!({ "jkt": jkt });
        }
        let access = self
            .keys
            .sign(&claims)
            .map_err(|e| OAuthError::unavailable(format!("cannot sign: {e}")))?;
        let mut body = json!({
            "access_token": access,
            "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
            "expires_in": self.config.access_token_secs,
            "scope": scopes.join(" "),
        });
        if let Some(r) = refresh {
            body["refresh_token"] = json!(r);
        }
        Ok(body)
    }

    /// Revocation (RFC 7009): a refresh token's family is revoked; an
    /// access token lives out its short life.
    pub(crate) async fn revoke(
        &self,
        form: &Params,
        basic: Option<(String, String)>,
    ) -> Result<(), OAuthError> {
        let client = self.token_client(form, basic).await?;
        let token = form
            .get("token")
            .map_err(OAuthError::request)?
            .ok_or_else(|| OAuthError::request("token is missing"))?;
        if token.starts_with("sbr_") {
            self.grants.revoke_refresh(token, &client.id).await?;
        }
        Ok(())
    }
}

/// Whether two resource URLs name the same resource (a trailing slash
/// aside).
fn same_resource(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Keep the keys fresh and sweep expired grants while the server lives.
async fn upkeep(server: Weak<AuthorizationServer>) {
    let mut sweeps = 0u32;
    loop {
        tokio::time::sleep(RELOAD_EVERY).await;
        let Some(s) = server.upgrade() else { return };
        if let Err(e) = s.keys.refresh().await {
            tracing::warn!(error = %e, "oauth: cannot refresh the signing keys");
        }
        s.share_nonce_key();
        sweeps += 1;
        if sweeps.is_multiple_of(10)
            && let Err(e) = s.grants.sweep().await
        {
            tracing::warn!(error = %e, "oauth: cannot sweep expired grants");
        }
    }
}
