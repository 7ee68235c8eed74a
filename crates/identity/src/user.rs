//! Each user's own grant (`grant = "authorization_code"`): had from the
//! vault and refreshed, or a sign-in started for it — the flow (server,
//! client, resource, scopes) chosen as MCP's authorization rules say — and
//! what the upstream's refusal of a token means: a 401 drops the grant
//! (and what was discovered: the server may have moved, SEP-2352), a 403
//! `insufficient_scope` steps the scopes up (RFC 6750 §3.1), at most
//! [`MAX_STEP_UPS`] times and only for scopes the grant does not have.

use std::sync::Arc;

use crate::cache::Held;
use crate::challenge::Challenge;
use crate::connect::{self, Flow};
use crate::discover::Found;
use crate::error::IdentityError;
use crate::{Grant, Identity, Who};

/// How many times one grant's scopes are stepped up, at most (so at most
/// three authorization requests in a row for one user and upstream).
pub const MAX_STEP_UPS: u32 = 2;

/// The scope a client asks for to be given refresh tokens, where the
/// server lists it (SEP-2207).
const OFFLINE_ACCESS: &str = "offline_access";

impl Identity {
    /// `who`'s own grant (refreshed if need be), or the sign-in they must
    /// make first.
    pub(crate) async fn granted(&self, who: Who<'_>) -> Result<Held, IdentityError> {
        let Some((vault, lane)) = &self.vault else {
            return Err(IdentityError::Unavailable {
                upstream: self.upstream.clone(),
                reason: "users' grants need the token vault ([vault] keys)".into(),
            });
        };
        if who.subject == "anonymous" && who.token.is_none() {
            return Err(IdentityError::NoClientToken {
                upstream: self.upstream.clone(),
            });
        }
        let (upstream, tenant, subject) = (&self.upstream, who.tenant, who.subject);
        if let Some(grant) = connect::stored(vault, upstream, lane, tenant, subject).await {
            if let Some(held) = grant.held() {
                return Ok(held);
            }
            match grant.refresh_token() {
                Some(refresh) => {
                    let refreshed = match &grant.flow {
                        Some(f) => {
                            self.endpoint
                                .refresh_as(
                                    &f.token_endpoint,
                                    &f.client,
                                    f.resource.as_deref(),
                                    refresh,
                                    grant.dpop_key().as_ref(),
                                )
                                .await
                        }
                        None => {
                            let found = self.effective().await?;
                            self.endpoint.refresh(&found.auth, refresh).await
                        }
                    };
                    match refreshed {
                        Ok(issued) => {
                            let renewed = grant.renewed(&issued);
                            connect::keep(vault, upstream, lane, tenant, subject, &renewed).await;
                            if let Some(held) = renewed.held() {
                                return Ok(held);
                            }
                        }
                        // Revoked or expired at the server: the user signs
                        // in again.
                        Err(IdentityError::Refused { .. }) => {
                            connect::forget(vault, upstream, lane, tenant, subject).await;
                        }
                        Err(e) => return Err(e.for_upstream(upstream)),
                    }
                }
                None => connect::forget(vault, upstream, lane, tenant, subject).await,
            }
        }
        if let Some(asked) =
            connect::under_way(vault, &self.auth, upstream, lane, tenant, subject).await
        {
            return Err(asked);
        }
        Err(self.sign_in(who, &[], 0).await)
    }

    /// A new sign-in for `who`, asking for `more` scopes too: the error
    /// naming its connect page, or why none can start.
    async fn sign_in(&self, who: Who<'_>, more: &[String], step_ups: u32) -> IdentityError {
        let Some((vault, lane)) = &self.vault else {
            return IdentityError::Unavailable {
                upstream: self.upstream.clone(),
                reason: "users' grants need the token vault ([vault] keys)".into(),
            };
        };
        let flow = match self.effective().await {
            Ok(found) => self.flow(&found, more, step_ups).await,
            Err(e) => Err(e),
        };
        let flow = match flow {
            Ok(flow) => flow,
            Err(e) => {
                tracing::warn!(upstream = %self.upstream, error = %e, "no sign-in can start");
                return e.for_upstream(&self.upstream);
            }
        };
        connect::sign_in(
            vault,
            &self.auth,
            Some(flow),
            &self.upstream,
            lane,
            who.tenant,
            who.subject,
        )
        .await
    }

    /// What a sign-in goes with: the server's endpoints and issuer, the
    /// client (configured, its metadata document, or registered), the
    /// resource (configured, else the upstream's metadata's), and the
    /// scopes — the upstream's (its challenge's, else its metadata's),
    /// the configured ones, `more`, and `offline_access` where a server
    /// the upstream named lists it.
    async fn flow(
        &self,
        found: &Found,
        more: &[String],
        step_ups: u32,
    ) -> Result<Flow, IdentityError> {
        let client = self.client(found).await?;
        let mut scopes: Vec<String> = Vec::new();
        for scope in found.scopes.iter().chain(&self.auth.scopes).chain(more) {
            if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
        let server = found.server.as_ref();
        let offline = server
            .and_then(|s| s.scopes_supported.as_ref())
            .is_some_and(|s| s.iter().any(|s| s == OFFLINE_ACCESS));
        if found.resource.is_some() && offline && !scopes.iter().any(|s| s == OFFLINE_ACCESS) {
            scopes.push(OFFLINE_ACCESS.to_owned());
        }
        Ok(Flow {
            authorization_endpoint: found
                .auth
                .authorization_endpoint
                .clone()
                .unwrap_or_default(),
            token_endpoint: found.auth.token_endpoint.clone(),
            issuer: server.map(|s| s.issuer.clone()),
            iss_required: server.is_some_and(|s| s.authorization_response_iss_parameter_supported),
            client,
            redirect_uri: self.auth.redirect_uri.clone().unwrap_or_default(),
            resource: self
                .auth
                .resource
                .clone()
                .or_else(|| found.resource.clone()),
            scopes,
            step_ups,
            dpop: self.auth.dpop
                && crate::dpop::offered(
                    server.and_then(|s| s.dpop_signing_alg_values_supported.as_deref()),
                ),
        })
    }

    /// The endpoints and what else was discovered (once; again after the
    /// upstream refused a token with a 401).
    pub(crate) async fn effective(&self) -> Result<Arc<Found>, IdentityError> {
        if !self.auth.discovers() {
            return Ok(self.configured.clone());
        }
        let mut slot = self.discovered.lock().await;
        if let Some(found) = slot.as_ref() {
            return Ok(found.clone());
        }
        let found =
            crate::discover::endpoints(&self.endpoint, &self.auth, self.upstream_url.as_deref())
                .await
                .map_err(|e| e.for_upstream(&self.upstream))?;
        let found = Arc::new(found);
        *slot = Some(found.clone());
        Ok(found)
    }

    /// The upstream refused the token it got for `who` with HTTP `status`
    /// and this `WWW-Authenticate` (RFC 6750 §3): the token is dropped
    /// (after a 401 from the vault too); after a 401 the user's grant is forgotten and the server found
    /// again, so their next call asks them to sign in (at the server the
    /// upstream names now); after a 403 `insufficient_scope` a sign-in for
    /// the grant's scopes and the challenged ones is started — the error
    /// naming it — unless the grant has them all already or was stepped up
    /// [`MAX_STEP_UPS`] times (then the refusal stands: an error saying
    /// so). `Ok` when the call may simply be made again with a new token.
    pub async fn refused(
        &self,
        who: Who<'_>,
        status: u16,
        www_authenticate: Option<&str>,
    ) -> Result<(), IdentityError> {
        if let Some(key) = self.cache_key(who) {
            self.cache.forget(&key);
        }
        if self.auth.grant != Grant::AuthorizationCode {
            // An exchanged or client-credentials token the upstream no
            // longer takes: not kept either, so the next is a new one.
            if status == 401
                && let Some((vault, name)) = self.entry(who)
            {
                let _ = vault.delete(who.tenant, &name).await;
            }
            return Ok(());
        }
        let Some((vault, lane)) = &self.vault else {
            return Ok(());
        };
        let (upstream, tenant, subject) = (&self.upstream, who.tenant, who.subject);
        let challenge = www_authenticate
            .and_then(Challenge::parse)
            .unwrap_or_default();
        match status {
            401 => {
                connect::forget(vault, upstream, lane, tenant, subject).await;
                *self.discovered.lock().await = None;
                Ok(())
            }
            403 if challenge.insufficient_scope() => {
                let grant = connect::stored(vault, upstream, lane, tenant, subject).await;
                let flow = grant.as_ref().and_then(|g| g.flow.as_ref());
                let had = flow.map_or_else(|| self.auth.scopes.clone(), |f| f.scopes.clone());
                let step_ups = flow.map_or(0, |f| f.step_ups);
                let mut wanted = had.clone();
                for scope in &challenge.scope {
                    if !wanted.contains(scope) {
                        wanted.push(scope.clone());
                    }
                }
                let refused = |why: String| IdentityError::Refused {
                    upstream: upstream.clone(),
                    error: "insufficient_scope".into(),
                    description: format!(": {why}"),
                };
                if wanted.len() == had.len() {
                    return Err(refused(format!(
                        "the upstream wants scope {:?}, which the grant has already",
                        challenge.scope.join(" ")
                    )));
                }
                if step_ups >= MAX_STEP_UPS {
                    return Err(refused(format!(
                        "the upstream asked for more scopes {} times in a row; not asked again",
                        step_ups + 1
                    )));
                }
                connect::forget(vault, upstream, lane, tenant, subject).await;
                Err(self.sign_in(who, &wanted, step_ups + 1).await)
            }
            _ => Ok(()),
        }
    }
}
