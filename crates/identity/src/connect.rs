//! OAuth to an upstream by the user's own sign-in (`grant =
//! "authorization_code"`): the grants users made, kept sealed in the
//! vault and refreshed; and the connect flow that makes one.
//!
//! A call by a user without a grant creates a *pending sign-in* — a
//! random `state`, bound to the tenant, the user, the upstream and a PKCE
//! verifier, kept in the vault for ten minutes and used once — and is
//! answered with a URL elicitation naming Switchboard's connect page
//! (`/connect?state=…`). The page sends the browser to the authorization
//! server (code flow, PKCE S256); the server sends it back to
//! `/connect/callback`, where the code is redeemed with the verifier and
//! the grant stored for the user who asked. Any node can serve either
//! page: the pending sign-in and the grant are in the vault.
//!
//! A sign-in records what it was started with (its `Flow`): the
//! server's endpoints and issuer, the client it signs in as, the resource
//! and the scopes asked for. The callback checks the authorization
//! response's `iss` against that issuer (RFC 9207) before it redeems the
//! code, and the grant keeps the flow to be refreshed with, and stepped
//! up from.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cache::{self, Held};
use crate::config::UpstreamAuth;
use crate::dpop::DpopKey;
use crate::endpoint::{ClientAuth, Code, Endpoint, Issued};
use crate::error::IdentityError;
use crate::vault::Vault;

/// The vault's "tenant" for pending sign-ins (not a valid tenant id).
const PENDING: &str = "\u{1}connect";

/// How long a pending sign-in may take.
pub const SIGN_IN_TTL: Duration = Duration::from_secs(600);

/// What a sign-in was started with, and a grant is refreshed with: kept
/// sealed (it may hold a client secret).
#[derive(Clone, Default, Serialize, Deserialize)]
pub(crate) struct Flow {
    pub(crate) authorization_endpoint: String,
    pub(crate) token_endpoint: String,
    /// The server's issuer, from its metadata: an `iss` in its
    /// authorization response must be identical to it (RFC 9207 §2.4).
    #[serde(default)]
    pub(crate) issuer: Option<String>,
    /// Its metadata says it sends `iss`: then a response without one is
    /// refused.
    #[serde(default)]
    pub(crate) iss_required: bool,
    pub(crate) client: ClientAuth,
    pub(crate) redirect_uri: String,
    #[serde(default)]
    pub(crate) resource: Option<String>,
    /// The scopes asked for (then, in a grant, those granted too).
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
    /// How many times the scopes were stepped up to get here.
    #[serde(default)]
    pub(crate) step_ups: u32,
    /// The server offers DPoP with ES256 and the upstream's `dpop` is on:
    /// the code is redeemed with a proof of a new key of the grant's own.
    #[serde(default)]
    pub(crate) dpop: bool,
}

/// A grant as the vault keeps it.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredGrant {
    access_token: String,
    refresh_token: Option<String>,
    /// The access token's expiry (Unix seconds), if the server said.
    expires_at: Option<u64>,
    /// When the user signed in (Unix seconds).
    created_at: u64,
    /// The sign-in it was made by (none for grants made before flows were
    /// kept: those refresh with the upstream's settings).
    #[serde(default)]
    pub(crate) flow: Option<Flow>,
    /// The grant's DPoP key (its private scalar), when its tokens were
    /// asked for with proofs: refreshes prove it too.
    #[serde(default)]
    dpop_key: Option<String>,
    /// The access token is bound to that key (the server said
    /// `token_type` `DPoP`).
    #[serde(default)]
    dpop_bound: bool,
}

impl StoredGrant {
    fn new(
        issued: &Issued,
        previous: Option<&StoredGrant>,
        flow: Option<Flow>,
        dpop: Option<&DpopKey>,
    ) -> Self {
        let now = cache::unix_now();
        let mut flow = flow.or_else(|| previous.and_then(|p| p.flow.clone()));
        if let (Some(flow), Some(granted)) = (flow.as_mut(), issued.scope.as_deref()) {
            for scope in granted.split_whitespace() {
                if !flow.scopes.iter().any(|s| s == scope) {
                    flow.scopes.push(scope.to_owned());
                }
            }
        }
        Self {
            access_token: issued.token.expose().to_owned(),
            // A server that does not rotate the refresh token keeps it.
            refresh_token: issued
                .refresh_token
                .as_ref()
                .map(|t| t.expose().to_owned())
                .or_else(|| previous.and_then(|p| p.refresh_token.clone())),
            expires_at: issued.expires_in.map(|d| now + d.as_secs()),
            created_at: previous.map_or(now, |p| p.created_at),
            flow,
            dpop_key: dpop
                .map(DpopKey::to_stored)
                .or_else(|| previous.and_then(|p| p.dpop_key.clone())),
            dpop_bound: issued.dpop.is_some(),
        }
    }

    /// The grant's DPoP key, if it has one.
    pub(crate) fn dpop_key(&self) -> Option<Arc<DpopKey>> {
        self.dpop_key
            .as_deref()
            .and_then(DpopKey::from_stored)
            .map(Arc::new)
    }

    /// The refresh token, if any.
    pub(crate) fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_deref()
    }

    /// The same grant with `issued`'s tokens (a refresh).
    pub(crate) fn renewed(&self, issued: &Issued) -> Self {
        Self::new(issued, Some(self), None, None)
    }

    /// Held, if its access token has time left.
    pub(crate) fn held(&self) -> Option<Held> {
        let left = match self.expires_at {
            Some(at) => at.checked_sub(cache::unix_now()).filter(|l| *l > 0)?,
            None => 300,
        };
        let dpop = if self.dpop_bound {
            // A bound token without its key cannot be used.
            Some(self.dpop_key()?)
        } else {
            None
        };
        let issued = Issued::kept(self.access_token.clone(), Duration::from_secs(left), dpop);
        let held = Held::new(issued, None);
        held.fresh().map(|_| held)
    }
}

/// A sign-in under way. `Debug` leaves out the PKCE verifier.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    /// The tenant of the user who asked.
    pub tenant: String,
    /// The user.
    pub subject: String,
    /// The upstream.
    pub upstream: String,
    /// The credential set (a tenant with its own client, or empty).
    pub lane: String,
    verifier: String,
    created_at: u64,
    /// The endpoints in effect when it started (discovered ones included).
    #[serde(default)]
    authorization_endpoint: String,
    #[serde(default)]
    token_endpoint: String,
    /// What it was started with (none in sign-ins started before flows
    /// were kept).
    #[serde(default)]
    flow: Option<Flow>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("tenant", &self.tenant)
            .field("subject", &self.subject)
            .field("upstream", &self.upstream)
            .field("lane", &self.lane)
            .finish_non_exhaustive()
    }
}

impl Pending {
    fn expired(&self) -> bool {
        cache::unix_now().saturating_sub(self.created_at) > SIGN_IN_TTL.as_secs()
    }
}

/// The vault name of a user's grant for an upstream.
pub(crate) fn grant_name(upstream: &str, lane: &str, subject: &str) -> String {
    format!("grant\0{upstream}\0{lane}\0{subject}")
}

/// The vault name of a user's pending sign-in's state.
fn pending_name(upstream: &str, lane: &str, subject: &str) -> String {
    format!("pending\0{upstream}\0{lane}\0{subject}")
}

/// 32 random bytes, base64url.
fn random() -> Result<String, IdentityError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| IdentityError::Unavailable {
        upstream: String::new(),
        reason: format!("no randomness: {e}"),
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The user's stored grant, if any (one that does not open is none).
pub(crate) async fn stored(
    vault: &Vault,
    upstream: &str,
    lane: &str,
    tenant: &str,
    subject: &str,
) -> Option<StoredGrant> {
    let name = grant_name(upstream, lane, subject);
    vault
        .get(tenant, &name)
        .await
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// Keep `grant` as the user's.
pub(crate) async fn keep(
    vault: &Vault,
    upstream: &str,
    lane: &str,
    tenant: &str,
    subject: &str,
    grant: &StoredGrant,
) {
    put(vault, tenant, &grant_name(upstream, lane, subject), grant).await;
}

/// Forget the user's grant.
pub(crate) async fn forget(vault: &Vault, upstream: &str, lane: &str, tenant: &str, subject: &str) {
    let _ = vault
        .delete(tenant, &grant_name(upstream, lane, subject))
        .await;
}

async fn put(vault: &Vault, tenant: &str, name: &str, grant: &StoredGrant) {
    if let Ok(bytes) = serde_json::to_vec(grant)
        && let Err(e) = vault.put(tenant, name, &bytes).await
    {
        tracing::warn!(error = %e, "the vault cannot be written: the grant is not kept");
    }
}

/// The URL elicitation of the user's sign-in under way, if one is and is
/// still fresh.
pub(crate) async fn under_way(
    vault: &Vault,
    auth: &UpstreamAuth,
    upstream: &str,
    lane: &str,
    tenant: &str,
    subject: &str,
) -> Option<IdentityError> {
    let index = pending_name(upstream, lane, subject);
    let state = vault
        .get(tenant, &index)
        .await
        .ok()
        .flatten()
        .and_then(|s| String::from_utf8(s).ok())?;
    match pending(vault, &state).await {
        Some(p) if !p.expired() => Some(required(auth, upstream, &state)),
        _ => {
            let _ = vault.delete(PENDING, &state).await;
            None
        }
    }
}

/// The error that sends the user to sign in: a new pending sign-in of
/// `flow` (replacing one under way).
pub(crate) async fn sign_in(
    vault: &Vault,
    auth: &UpstreamAuth,
    flow: Option<Flow>,
    upstream: &str,
    lane: &str,
    tenant: &str,
    subject: &str,
) -> IdentityError {
    let index = pending_name(upstream, lane, subject);
    if let Some(old) = vault
        .get(tenant, &index)
        .await
        .ok()
        .flatten()
        .and_then(|s| String::from_utf8(s).ok())
    {
        let _ = vault.delete(PENDING, &old).await;
    }
    let (state, verifier) = match (random(), random()) {
        (Ok(s), Ok(v)) => (s, v),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let record = Pending {
        tenant: tenant.to_owned(),
        subject: subject.to_owned(),
        upstream: upstream.to_owned(),
        lane: lane.to_owned(),
        verifier,
        created_at: cache::unix_now(),
        authorization_endpoint: auth.authorization_endpoint.clone().unwrap_or_default(),
        token_endpoint: auth.token_endpoint.clone(),
        flow,
    };
    let stored = match serde_json::to_vec(&record) {
        Ok(bytes) => vault.put(PENDING, &state, &bytes).await,
        Err(_) => return unavailable(upstream, "cannot record the sign-in"),
    };
    if stored.is_err() || vault.put(tenant, &index, state.as_bytes()).await.is_err() {
        return unavailable(upstream, "the vault cannot record the sign-in");
    }
    required(auth, upstream, &state)
}

fn unavailable(upstream: &str, reason: &str) -> IdentityError {
    IdentityError::Unavailable {
        upstream: upstream.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The URL elicitation to the connect page of `state`.
fn required(auth: &UpstreamAuth, upstream: &str, state: &str) -> IdentityError {
    let callback = auth.redirect_uri.as_deref().unwrap_or_default();
    let page = callback.strip_suffix("/callback").unwrap_or(callback);
    IdentityError::SignInRequired {
        upstream: upstream.to_owned(),
        url: format!("{page}?state={state}"),
        id: cache::digest(state)[..32].to_owned(),
    }
}

/// A pending sign-in by its state, if there is one (not consumed).
pub async fn pending(vault: &Vault, state: &str) -> Option<Pending> {
    if state.is_empty() || state.len() > 128 {
        return None;
    }
    let bytes = vault.get(PENDING, state).await.ok()??;
    serde_json::from_slice(&bytes).ok()
}

/// The authorization server's URL the connect page sends `pending`'s
/// browser to (code flow, PKCE S256; the client, redirect, scopes and
/// resource the sign-in was started with).
pub fn authorize_url(auth: &UpstreamAuth, state: &str, pending: &Pending) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
    let (client_id, redirect_uri, scopes, resource) = match &pending.flow {
        Some(f) => (
            f.client.id.as_str(),
            f.redirect_uri.as_str(),
            &f.scopes,
            f.resource.as_deref(),
        ),
        None => (
            auth.client_id.as_str(),
            auth.redirect_uri.as_deref().unwrap_or(""),
            &auth.scopes,
            auth.resource.as_deref(),
        ),
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("response_type", "code");
    query.append_pair("client_id", client_id);
    query.append_pair("redirect_uri", redirect_uri);
    query.append_pair("state", state);
    query.append_pair("code_challenge", &challenge);
    query.append_pair("code_challenge_method", "S256");
    if !scopes.is_empty() {
        query.append_pair("scope", &scopes.join(" "));
    }
    if let Some(resource) = resource {
        query.append_pair("resource", resource);
    }
    let started = match &pending.flow {
        Some(f) => f.authorization_endpoint.as_str(),
        None => pending.authorization_endpoint.as_str(),
    };
    let endpoint = match started {
        "" => auth.authorization_endpoint.as_deref().unwrap_or_default(),
        started => started,
    };
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{sep}{}", query.finish())
}

/// Why a callback made no grant. Shown to the user; names no secret.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No such sign-in: forged, already used, or from another node's
    /// vault.
    #[error("this sign-in is unknown or was already used; start again from your client")]
    UnknownState,
    /// It took longer than [`SIGN_IN_TTL`].
    #[error("this sign-in took too long; start again from your client")]
    Expired,
    /// The authorization server sent an error instead of a code.
    #[error("the authorization server did not grant access: {0}")]
    Denied(String),
    /// The response's `iss` is not the issuer the sign-in went to, or it
    /// is missing though the server says it sends one (RFC 9207 §2.4): a
    /// response from another server (a mix-up), refused before its code is
    /// used.
    #[error("the authorization response {0}; it is refused and its code not used")]
    WrongIssuer(&'static str),
    /// The code was not redeemed (a code of another sign-in, a PKCE
    /// mismatch, the server unreachable).
    #[error("{0}")]
    Redeem(IdentityError),
}

/// The authorization server's answer at the callback.
#[derive(Debug, Clone, Copy, Default)]
pub struct Response<'a> {
    /// `code`.
    pub code: Option<&'a str>,
    /// `error`.
    pub error: Option<&'a str>,
    /// `iss` (RFC 9207).
    pub iss: Option<&'a str>,
}

/// Whether an authorization response's `iss` may be used (RFC 9207 §2.4):
/// when present it must be identical to the issuer the sign-in went to
/// (simple string comparison), and it must be present when the server's
/// metadata says it sends one.
fn issuer_checked(flow: Option<&Flow>, iss: Option<&str>) -> Result<(), CallbackError> {
    let Some(expected) = flow.and_then(|f| f.issuer.as_deref()) else {
        return Ok(());
    };
    match iss {
        Some(iss) if iss != expected => Err(CallbackError::WrongIssuer(
            "names another issuer than the server the sign-in went to",
        )),
        None if flow.is_some_and(|f| f.iss_required) => Err(CallbackError::WrongIssuer(
            "has no iss, though the server's metadata says it sends one",
        )),
        _ => Ok(()),
    }
}

/// Finish the sign-in of `state` with the authorization server's answer
/// (`code`, or `error`): the pending sign-in is used up whatever happens;
/// the grant is stored for the user who started it. Returns that sign-in.
pub async fn finish(
    vault: &Vault,
    auth_of: impl FnOnce(&Pending) -> Option<UpstreamAuth>,
    state: &str,
    answer: Response<'_>,
) -> Result<Pending, CallbackError> {
    let pending = pending(vault, state)
        .await
        .ok_or(CallbackError::UnknownState)?;
    // Used once: whatever follows, this state opens nothing again.
    if !vault.delete(PENDING, state).await.unwrap_or(false) {
        return Err(CallbackError::UnknownState);
    }
    if pending.expired() {
        return Err(CallbackError::Expired);
    }
    issuer_checked(pending.flow.as_ref(), answer.iss)?;
    if let Some(error) = answer.error {
        let shown: String = error
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        return Err(CallbackError::Denied(shown));
    }
    let code = answer
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or(CallbackError::Denied("no code".into()))?;
    let mut auth = auth_of(&pending).ok_or(CallbackError::UnknownState)?;
    if !pending.token_endpoint.is_empty() {
        auth.token_endpoint = pending.token_endpoint.clone();
    }
    let endpoint = Endpoint::new(&auth);
    let key = match pending.flow.as_ref().filter(|f| f.dpop) {
        Some(_) => Some(Arc::new(DpopKey::generate().ok_or_else(|| {
            CallbackError::Redeem(unavailable(
                &pending.upstream,
                "no randomness for a DPoP key",
            ))
        })?)),
        None => None,
    };
    let issued = match &pending.flow {
        Some(f) => {
            endpoint
                .redeem_as(
                    &f.token_endpoint,
                    &f.client,
                    f.resource.as_deref(),
                    Code {
                        code,
                        redirect_uri: &f.redirect_uri,
                        verifier: &pending.verifier,
                    },
                    key.as_ref(),
                )
                .await
        }
        None => endpoint.redeem(&auth, code, &pending.verifier).await,
    }
    .map_err(|e| CallbackError::Redeem(e.for_upstream(&pending.upstream)))?;
    let grant = StoredGrant::new(&issued, None, pending.flow.clone(), key.as_deref());
    let name = grant_name(&pending.upstream, &pending.lane, &pending.subject);
    put(vault, &pending.tenant, &name, &grant).await;
    let _ = vault
        .delete(
            &pending.tenant,
            &pending_name(&pending.upstream, &pending.lane, &pending.subject),
        )
        .await;
    Ok(pending)
}

/// One user's grant for an upstream, as listed: never its tokens.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    /// The upstream.
    pub upstream: String,
    /// The user.
    pub subject: String,
    /// The credential set (a tenant with its own client; empty for the
    /// upstream's).
    pub lane: String,
    /// When the user signed in (Unix seconds).
    pub created_at: u64,
    /// When its access token expires (Unix seconds), if the server said;
    /// it is refreshed when needed.
    pub expires_at: Option<u64>,
}

/// `(upstream, lane, subject)` of a grant's vault name.
fn parse_grant_name(name: &str) -> Option<(&str, &str, &str)> {
    let mut parts = name.strip_prefix("grant\0")?.splitn(3, '\0');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

/// `tenant`'s grants (of `subject` only, if given).
pub async fn connections(
    vault: &Vault,
    tenant: &str,
    subject: Option<&str>,
) -> Result<Vec<Connection>, crate::VaultError> {
    let mut found = Vec::new();
    for name in vault.names(tenant).await? {
        let Some((upstream, lane, who)) = parse_grant_name(&name) else {
            continue;
        };
        if subject.is_some_and(|s| s != who) {
            continue;
        }
        let Some(bytes) = vault.get(tenant, &name).await? else {
            continue;
        };
        let Ok(grant) = serde_json::from_slice::<StoredGrant>(&bytes) else {
            continue;
        };
        found.push(Connection {
            upstream: upstream.to_owned(),
            subject: who.to_owned(),
            lane: lane.to_owned(),
            created_at: grant.created_at,
            expires_at: grant.expires_at,
        });
    }
    Ok(found)
}

/// Remove `subject`'s grants for `upstream` (every credential set);
/// how many there were. The authorization server is not told: the grant
/// is forgotten here, and the user signs in again to use the upstream.
pub async fn revoke(
    vault: &Vault,
    tenant: &str,
    subject: &str,
    upstream: &str,
) -> Result<usize, crate::VaultError> {
    let mut removed = 0;
    for name in vault.names(tenant).await? {
        if let Some((u, _, s)) = parse_grant_name(&name)
            && u == upstream
            && s == subject
            && vault.delete(tenant, &name).await?
        {
            removed += 1;
        }
    }
    Ok(removed)
}
