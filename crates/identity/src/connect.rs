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

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchboard_secret::Secret;

use crate::cache::{self, Held};
use crate::config::UpstreamAuth;
use crate::endpoint::{Endpoint, Issued};
use crate::error::IdentityError;
use crate::vault::Vault;

/// The vault's "tenant" for pending sign-ins (not a valid tenant id).
const PENDING: &str = "\u{1}connect";

/// How long a pending sign-in may take.
pub const SIGN_IN_TTL: Duration = Duration::from_secs(600);

/// A grant as the vault keeps it.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredGrant {
    access_token: String,
    refresh_token: Option<String>,
    /// The access token's expiry (Unix seconds), if the server said.
    expires_at: Option<u64>,
    /// When the user signed in (Unix seconds).
    created_at: u64,
}

impl StoredGrant {
    fn new(issued: &Issued, previous: Option<&StoredGrant>) -> Self {
        let now = cache::unix_now();
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
        }
    }

    /// Held, if its access token has time left.
    fn held(&self) -> Option<Held> {
        let left = match self.expires_at {
            Some(at) => at.checked_sub(cache::unix_now()).filter(|l| *l > 0)?,
            None => 300,
        };
        let held = Held::new(
            Issued {
                token: Secret::new(self.access_token.clone()),
                expires_in: Some(Duration::from_secs(left)),
                refresh_token: None,
            },
            None,
        );
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

/// The user's grant, held (refreshed if its access token expired); or the
/// sign-in they must make first.
pub(crate) async fn granted(
    vault: &Vault,
    endpoint: &Endpoint,
    auth: &UpstreamAuth,
    upstream: &str,
    lane: &str,
    tenant: &str,
    subject: &str,
) -> Result<Held, IdentityError> {
    let name = grant_name(upstream, lane, subject);
    let stored: Option<StoredGrant> = vault
        .get(tenant, &name)
        .await
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if let Some(grant) = &stored {
        if let Some(held) = grant.held() {
            return Ok(held);
        }
        if let Some(refresh) = &grant.refresh_token {
            match endpoint.refresh(auth, refresh).await {
                Ok(issued) => {
                    let renewed = StoredGrant::new(&issued, Some(grant));
                    put(vault, tenant, &name, &renewed).await;
                    if let Some(held) = renewed.held() {
                        return Ok(held);
                    }
                }
                // Revoked or expired at the server: the user signs in again.
                Err(IdentityError::Refused { .. }) => {
                    let _ = vault.delete(tenant, &name).await;
                }
                Err(e) => return Err(e),
            }
        } else {
            let _ = vault.delete(tenant, &name).await;
        }
    }
    Err(sign_in(vault, auth, upstream, lane, tenant, subject).await)
}

async fn put(vault: &Vault, tenant: &str, name: &str, grant: &StoredGrant) {
    if let Ok(bytes) = serde_json::to_vec(grant)
        && let Err(e) = vault.put(tenant, name, &bytes).await
    {
        tracing::warn!(error = %e, "the vault cannot be written: the grant is not kept");
    }
}

/// The error that sends the user to sign in: their pending sign-in (a new
/// one unless one under way is still fresh).
async fn sign_in(
    vault: &Vault,
    auth: &UpstreamAuth,
    upstream: &str,
    lane: &str,
    tenant: &str,
    subject: &str,
) -> IdentityError {
    let index = pending_name(upstream, lane, subject);
    let existing = vault
        .get(tenant, &index)
        .await
        .ok()
        .flatten()
        .and_then(|s| String::from_utf8(s).ok());
    if let Some(state) = &existing
        && let Some(p) = pending(vault, state).await
        && !p.expired()
    {
        return required(auth, upstream, state);
    }
    if let Some(old) = existing {
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
/// browser to (code flow, PKCE S256).
pub fn authorize_url(auth: &UpstreamAuth, state: &str, pending: &Pending) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("response_type", "code");
    query.append_pair("client_id", &auth.client_id);
    query.append_pair("redirect_uri", auth.redirect_uri.as_deref().unwrap_or(""));
    query.append_pair("state", state);
    query.append_pair("code_challenge", &challenge);
    query.append_pair("code_challenge_method", "S256");
    if !auth.scopes.is_empty() {
        query.append_pair("scope", &auth.scopes.join(" "));
    }
    if let Some(resource) = &auth.resource {
        query.append_pair("resource", resource);
    }
    let endpoint = match pending.authorization_endpoint.as_str() {
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
    /// The code was not redeemed (a code of another sign-in, a PKCE
    /// mismatch, the server unreachable).
    #[error("{0}")]
    Redeem(IdentityError),
}

/// Finish the sign-in of `state` with the authorization server's answer
/// (`code`, or `error`): the pending sign-in is used up whatever happens;
/// the grant is stored for the user who started it. Returns that sign-in.
pub async fn finish(
    vault: &Vault,
    auth_of: impl FnOnce(&Pending) -> Option<UpstreamAuth>,
    state: &str,
    code: Option<&str>,
    error: Option<&str>,
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
    if let Some(error) = error {
        let shown: String = error
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        return Err(CallbackError::Denied(shown));
    }
    let code = code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or(CallbackError::Denied("no code".into()))?;
    let mut auth = auth_of(&pending).ok_or(CallbackError::UnknownState)?;
    if !pending.token_endpoint.is_empty() {
        auth.token_endpoint = pending.token_endpoint.clone();
    }
    let endpoint = Endpoint::new(&auth);
    let issued = endpoint
        .redeem(&auth, code, &pending.verifier)
        .await
        .map_err(|e| CallbackError::Redeem(e.for_upstream(&pending.upstream)))?;
    let grant = StoredGrant::new(&issued, None);
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
