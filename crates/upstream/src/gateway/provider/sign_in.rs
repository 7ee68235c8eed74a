//! A user who must sign in to an upstream first (`grant =
//! "authorization_code"`), asked in the call itself: a client that takes
//! URL elicitations gets `elicitation/create` in URL mode naming the
//! connect page (in the 2026-07-28 era an `input_required` round), and
//! the call goes on once the user accepted and the grant is there — it
//! waits for the sign-in to finish, at most [`SIGN_IN_WAIT`]. Any other
//! client gets the -32042 error carrying the URL, and calls again.

use std::time::Duration;

use serde_json::json;
use switchboard_identity::{Credential, IdentityError, Who};
use switchboard_proto::{ErrorCode, RpcError};
use switchboard_runtime::{HandlerError, PeerError, RequestContext};

use super::super::lanes::Lane;
use super::{StdioProvider, identity_error};

/// How long a call waits, once the user accepted, for their sign-in to
/// finish (it is also bounded by the call's own timeout).
const SIGN_IN_WAIT: Duration = Duration::from_secs(120);
/// How often it looks.
const LOOK: Duration = Duration::from_millis(500);

impl StdioProvider {
    /// The caller's token; a user who must sign in first is asked in the
    /// call when their client takes URL elicitations.
    pub(super) async fn bearer_asking(
        &self,
        lane: &Lane,
        ctx: &RequestContext,
    ) -> Result<Option<Credential>, HandlerError> {
        let (upstream, url, id) = match self.token(lane, ctx.caller()).await {
            Err(IdentityError::SignInRequired { upstream, url, id }) if takes_url(ctx) => {
                (upstream, url, id)
            }
            other => return other.map_err(|e| identity_error(e).into()),
        };
        let params = json!({
            "mode": "url",
            "message": format!("Sign in to {upstream} so that Switchboard can use it as you."),
            "url": url,
            "elicitationId": id,
        });
        // Asked under a key of this sign-in's own: in the 2026-07-28 era a
        // retried request runs again from the start, and an answer given
        // to an earlier sign-in (one the grant came from, before the
        // upstream asked for more scopes) must not be taken for this one.
        match ctx.elicit_as(&format!("sign-in-{id}"), params).await {
            Ok(answer) if answer["action"] == "accept" => {}
            Ok(answer) => {
                let action = match answer["action"].as_str() {
                    Some("decline") => "declined",
                    Some("cancel") => "cancelled",
                    _ => "not accepted",
                };
                return Err(RpcError::new(
                    ErrorCode::UNAUTHORIZED,
                    format!("signing in to upstream {upstream} was {action}: the call needs it"),
                )
                .into());
            }
            Err(PeerError::InputRequired(_)) => return Err(HandlerError::InputRequired),
            Err(PeerError::Cancelled) => return Err(HandlerError::Cancelled),
            // The client could not be asked after all: the error, with
            // the URL.
            Err(_) => {
                let e = IdentityError::SignInRequired { upstream, url, id };
                return Err(identity_error(e).into());
            }
        }
        self.wait_for_grant(lane, ctx).await
    }

    /// The upstream refused the caller's token with HTTP `status` and this
    /// `WWW-Authenticate`: the identity drops it and, after a 401 or a 403
    /// for a scope the grant lacks, the call may be made again (the user
    /// asked to sign in first by [`StdioProvider::bearer_asking`]). A
    /// refusal a new sign-in will not mend is the error.
    pub(super) async fn refused(
        &self,
        lane: &Lane,
        ctx: &RequestContext,
        status: u16,
        challenge: Option<&str>,
    ) -> Result<(), HandlerError> {
        let Some(identity) = &lane.identity else {
            return Ok(());
        };
        let caller = ctx.caller();
        let who = Who {
            tenant: &caller.tenant,
            subject: &caller.subject,
            token: caller.token.as_deref(),
        };
        match identity.refused(who, status, challenge).await {
            Ok(()) | Err(IdentityError::SignInRequired { .. }) => Ok(()),
            Err(e) => Err(identity_error(e).into()),
        }
    }

    /// The user accepted: their grant once the sign-in finished, or the
    /// -32042 error (with the same URL) if it did not in time.
    async fn wait_for_grant(
        &self,
        lane: &Lane,
        ctx: &RequestContext,
    ) -> Result<Option<Credential>, HandlerError> {
        let until = tokio::time::Instant::now() + SIGN_IN_WAIT.min(self.timeout());
        if let Some(identity) = &lane.identity {
            let caller = ctx.caller();
            let who = Who {
                tenant: &caller.tenant,
                subject: &caller.subject,
                token: caller.token.as_deref(),
            };
            // Looked at quietly; the outcome is counted and audited once,
            // below.
            while let Err(IdentityError::SignInRequired { .. }) = identity.bearer(who).await {
                if tokio::time::Instant::now() >= until || ctx.is_cancelled() {
                    break;
                }
                tokio::time::sleep(LOOK).await;
            }
        }
        self.token(lane, ctx.caller())
            .await
            .map_err(|e| identity_error(e).into())
    }
}

/// Whether the client declared URL-mode elicitation.
fn takes_url(ctx: &RequestContext) -> bool {
    ctx.client_capabilities()
        .and_then(|c| c.get("elicitation"))
        .and_then(|e| e.get("url"))
        .is_some_and(|u| !u.is_null())
}
