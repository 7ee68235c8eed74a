//! The arrival decision of a POST, made from its headers before its body
//! is read: a request no running handler can be waiting for asks the gate
//! ([`Gate::arrive`](switchboard_tenancy::Gate::arrive)) and is refused at
//! once (503, or 429 for a tenant over its share; `Retry-After`) when the
//! server is full or late; the rest pass by. Passing by never skips
//! admission: a request that does work still takes a running slot when it
//! runs.
//!
//! Passed by, since refusing them could leave a handler waiting on what it
//! needs (the liveness rule of `docs/architecture.md`, "Admission and
//! capacity"): a POST naming a session that has a server-to-client request
//! unanswered, a request running, or no `notifications/initialized` yet
//! ([`LiveSession::expects_client`](switchboard_session::LiveSession::expects_client));
//! in a cluster (a session bus), a session this node has no live part of
//! (its handlers may run on another node); a stateless notification or
//! `subscriptions/listen` (named by the `Mcp-Method` header). GET and
//! DELETE never come here.
//!
//! A request let in is counted in hand from here until its answer is
//! decided: the front keeps the [`Arrived`] the gate gave it until then
//! (in the 2024-11-05 transport, the handler's task keeps it).
//!
//! A session-era POST says what it carries only in its body. A refused one
//! whose body is small (a declared `Content-Length` of at most
//! [`PEEK_LIMIT`]) is read and parsed first: a notification or an answer
//! passes, whatever the session's state; a request is refused then. A large
//! one is refused unread.
//!
//! A session whose client comes back before its last refusal's
//! `Retry-After` is over has its next refusal held until then
//! ([`LiveSession::refusal_hold`](switchboard_session::LiveSession::refusal_hold)):
//! a client that does not wait is refused about once per `Retry-After` per
//! connection instead of as fast as it can ask, so its refusals cannot
//! crowd out the calls let in; one that waits is refused at once.
//! (Stateless clients have no session to be paced by.)

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use switchboard_http::error::TransportError;
use switchboard_http::guard;
use switchboard_limits::{Arrived, Rejected};
use switchboard_proto::{Incoming, Message};
use switchboard_session::LiveSession;
use switchboard_tenancy::Principal;

use crate::Fronts;
use crate::stateless_era::LISTEN;

/// The largest body a refused POST has read to see whether it carries a
/// request: notifications and answers are far smaller; anything larger is
/// refused unread.
pub(crate) const PEEK_LIMIT: u64 = 4096;

/// What the arrival decision said of a session-era POST: come in, or a
/// refusal held until the body shows whether it carries a request.
#[must_use]
pub(crate) struct Arrival<'a> {
    who: &'a Principal,
    refused: Option<Rejected>,
    arrived: Option<Arrived>,
    /// The session's live part here, when a refusal is held for it.
    live: Option<Arc<LiveSession>>,
}

impl<'a> Arrival<'a> {
    /// What the gate's `decision` says of `who`'s POST (none: passed by),
    /// its refusal not held.
    fn new(who: &'a Principal, decision: Option<Result<Arrived, Rejected>>) -> Self {
        let (arrived, refused) = match decision {
            Some(Ok(arrived)) => (Some(arrived), None),
            Some(Err(rejected)) => (None, Some(rejected)),
            None => (None, None),
        };
        Arrival {
            who,
            refused,
            arrived,
            live: None,
        }
    }

    /// The POST's body: refused at once, unread, if the decision was to
    /// refuse and the body is not small; read (within the body limit)
    /// otherwise.
    pub(crate) async fn body(
        &self,
        app: &Fronts,
        headers: &HeaderMap,
        body: axum::body::Body,
    ) -> Result<Bytes, TransportError> {
        if let Some(rejected) = self.refused
            && !small(headers)
        {
            return Err(self.refuse(app, rejected).await);
        }
        switchboard_http::body::read_body(body, headers, app.config().max_body_bytes).await
    }

    /// After parsing: a refused POST that carries a request (alone or in a
    /// batch) is refused now; notifications and answers pass.
    pub(crate) async fn settle(
        &self,
        app: &Fronts,
        incoming: &Incoming,
    ) -> Result<(), TransportError> {
        match self.refused {
            Some(rejected) if carries_request(incoming) => Err(self.refuse(app, rejected).await),
            _ => Ok(()),
        }
    }

    /// The refusal, held first while the session's client has not waited
    /// out its last one (or until the session ends).
    async fn refuse(&self, app: &Fronts, rejected: Rejected) -> TransportError {
        let refusal = app.gate().refuse(self.who, rejected);
        if let (Some(live), Some(wait)) = (&self.live, refusal.retry_after()) {
            let hold = live.refusal_hold(wait);
            if !hold.is_zero() {
                // Boxed: every POST's future would otherwise carry a timer.
                Box::pin(held(live, hold)).await;
            }
        }
        refusal
    }

    /// What keeps the request counted in hand (none for one passed by or
    /// refused): to be kept until its answer is decided.
    pub(crate) fn into_arrived(self) -> Option<Arrived> {
        self.arrived
    }
}

/// Wait `hold`, or until the session ends.
async fn held(live: &LiveSession, hold: std::time::Duration) {
    tokio::select! {
        () = tokio::time::sleep(hold) => {}
        () = live.closed.cancelled() => {}
    }
}

/// A session-era POST (or one opening a session) on `/mcp`.
pub(crate) fn session_post<'a>(
    app: &Fronts,
    who: &'a Principal,
    headers: &HeaderMap,
) -> Arrival<'a> {
    match guard::session_id(headers) {
        Ok(Some(id)) => of_session(app, who, id),
        Ok(None) => Arrival::new(who, Some(app.gate().arrive(who, &who.identity()))),
        // A malformed header is refused later, as it is now.
        Err(_) => Arrival::new(who, None),
    }
}

/// A POST to `/messages` of 2024-11-05 naming session `id`.
pub(crate) fn legacy_post<'a>(app: &Fronts, who: &'a Principal, id: &str) -> Arrival<'a> {
    of_session(app, who, id)
}

/// The gate's answer for a POST naming session `id`: counted in, refused,
/// or neither (passed by).
fn of_session<'a>(app: &Fronts, who: &'a Principal, id: &str) -> Arrival<'a> {
    let live = app.sessions().registry().get(id);
    let decision = match &live {
        Some(live) if live.expects_client() => None,
        None if app.sessions().bus().is_some() => None,
        _ => Some(app.gate().arrive(who, id)),
    };
    let mut arrival = Arrival::new(who, decision);
    if arrival.refused.is_some() {
        // Paced only for its owner: another's refusals do not hold it.
        arrival.live = live.filter(|l| l.owner().is_some_and(|(owner, _)| owner == who.identity()));
    }
    arrival
}

/// A stateless (2026-07-28) POST, by its `Mcp-Method` header: a request
/// is counted in, or refused at once, unread.
pub(crate) fn stateless_post(
    app: &Fronts,
    who: &Principal,
    headers: &HeaderMap,
) -> Result<Option<Arrived>, TransportError> {
    let method = switchboard_stateless::headers::method(headers);
    if method
        .as_deref()
        .is_some_and(|m| m.starts_with("notifications/") || m == LISTEN)
    {
        return Ok(None);
    }
    app.gate()
        .arrive(who, &who.identity())
        .map(Some)
        .map_err(|rejected| app.gate().refuse(who, rejected))
}

/// Whether the POST declares a body small enough to read before refusing.
fn small(headers: &HeaderMap) -> bool {
    switchboard_http::body::declared_length(headers).is_some_and(|n| n <= PEEK_LIMIT)
}

/// Whether a parsed body holds a request (alone, or one of a batch).
fn carries_request(incoming: &Incoming) -> bool {
    let is_request = |m: &Message| matches!(m, Message::Request { .. });
    match incoming {
        Incoming::Single(m) => is_request(m),
        Incoming::Batch(items) => items.iter().flatten().any(is_request),
    }
}
