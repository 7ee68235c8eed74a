//! The arrival decision of a POST, made from its headers before its body
//! is read: a request no running handler can be waiting for asks the gate
//! ([`Gate::arrive`](switchboard_tenancy::Gate::arrive)) and is refused at
//! once (503, `Retry-After`) when the server is full or late; the rest pass
//! by. Passing by never skips admission: a request that does work still
//! takes a running slot when it runs.
//!
//! Passed by, since refusing them could leave a handler waiting on what it
//! needs (the liveness rule of `docs/architecture.md`, "Admission and
//! capacity"): a POST naming a session that has a server-to-client request
//! unanswered, a request running, or no `notifications/initialized` yet
//! ([`LiveSession::expects_client`](switchboard_session::LiveSession::expects_client));
//! in a cluster (a session bus), a session this node has no live part of
//! (its handlers may run on another node); a stateless notification or
//! `subscriptions/listen`. GET and DELETE never come here.

use http::HeaderMap;
use switchboard_http::error::TransportError;
use switchboard_http::guard;
use switchboard_tenancy::Principal;

use crate::Fronts;
use crate::stateless_era::LISTEN;

/// A session-era POST (or one opening a session) on `/mcp`.
pub(crate) fn session_post(
    app: &Fronts,
    who: &Principal,
    headers: &HeaderMap,
) -> Result<(), TransportError> {
    match guard::session_id(headers) {
        Ok(Some(id)) => of_session(app, who, id),
        Ok(None) => app.gate().arrive(who, &who.identity()),
        // A malformed header is refused later, as it is now.
        Err(_) => Ok(()),
    }
}

/// A POST naming session `id` (on `/mcp`, or `/messages` of 2024-11-05).
pub(crate) fn of_session(app: &Fronts, who: &Principal, id: &str) -> Result<(), TransportError> {
    match app.sessions().registry().get(id) {
        Some(live) if live.expects_client() => Ok(()),
        Some(_) => app.gate().arrive(who, id),
        None if app.sessions().bus().is_some() => Ok(()),
        None => app.gate().arrive(who, id),
    }
}

/// A stateless (2026-07-28) POST, by its `Mcp-Method` header.
pub(crate) fn stateless_post(
    app: &Fronts,
    who: &Principal,
    headers: &HeaderMap,
) -> Result<(), TransportError> {
    let method = switchboard_stateless::headers::method(headers);
    if method
        .as_deref()
        .is_some_and(|m| m.starts_with("notifications/") || m == LISTEN)
    {
        return Ok(());
    }
    app.gate().arrive(who, &who.identity())
}
