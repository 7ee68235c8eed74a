//! Resolving a request's session, and DELETE.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use switchboard_http::PeerAddr;
use switchboard_http::era::{self, Era};
use switchboard_http::error::TransportError;
use switchboard_http::guard;
use switchboard_proto::ProtocolVersion;
use switchboard_session::LiveSession;
use switchboard_store::{SessionRecord, StoreError, now_ms};
use switchboard_tenancy::Principal;
use tracing::Instrument;

use crate::app::App;

/// A resolved session: its durable record and its live part on this node.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) record: SessionRecord,
    pub(crate) live: Arc<LiveSession>,
    pub(crate) version: ProtocolVersion,
    /// Who sent the request (the session's own principal).
    pub(crate) who: Principal,
}

impl App {
    /// Resolve the session a request names: 400 without an id, 404 for an
    /// unknown or ended one, 400 for an unsupported `MCP-Protocol-Version`.
    pub(crate) async fn open_session(
        &self,
        headers: &HeaderMap,
        who: &Principal,
    ) -> Result<Session, TransportError> {
        let id = guard::session_id(headers)?.ok_or(TransportError::MissingSession)?;
        check_version_header(headers)?;
        self.open_session_id(id, who).await
    }

    /// Resolve a session by id for `who`: 404 if unknown, ended, or bound
    /// to another principal (the same answer, so an id reveals nothing).
    pub(crate) async fn open_session_id(
        &self,
        id: &str,
        who: &Principal,
    ) -> Result<Session, TransportError> {
        // `last seen` is refreshed at most once a second per session, in the
        // same store call as the load (one round trip on a networked store).
        // A session new to this node starts fresh there: nothing due yet.
        // (The refresh precedes the binding check: a request naming the id
        // under another principal keeps it alive, and learns nothing.)
        let now = now_ms();
        let due = self
            .registry()
            .get(id)
            .is_some_and(|live| live.should_touch_store(now));
        let loading = async {
            if due {
                self.store().load_and_touch(id, now).await
            } else {
                self.store().load(id).await
            }
        };
        let Some(record) = self.store_call("load", loading).await? else {
            // Ended elsewhere (another node, the admin API there): free
            // what this node still holds of it.
            if self.registry().get(id).is_some() {
                self.end_session(id).await?;
            }
            return Err(TransportError::UnknownSession);
        };
        self.check_binding(&record, who)?;
        switchboard_observe::access::session(id);
        let live = self
            .registry()
            .get_or_create(id, |l| l.set_subscriptions(&record.subscriptions));
        let version = ProtocolVersion::parse(&record.protocol_version)
            .unwrap_or(ProtocolVersion::LATEST_SESSION);
        Ok(Session {
            record,
            live,
            version,
            who: who.clone(),
        })
    }

    /// 404 (and a security event) unless `who` created the session.
    fn check_binding(&self, record: &SessionRecord, who: &Principal) -> Result<(), TransportError> {
        if record.principal.as_deref() == Some(who.binding().as_str()) {
            return Ok(());
        }
        self.metrics()
            .tenants
            .rejected(&who.tenant.id, "session_binding");
        self.gate()
            .security_event(who, Some(&record.id), "session_binding", None, "denied");
        Err(TransportError::UnknownSession)
    }
}

/// 400 when the `MCP-Protocol-Version` header names a version we do not speak.
pub(crate) fn check_version_header(headers: &HeaderMap) -> Result<(), TransportError> {
    match guard::protocol_version(headers) {
        Some(v) if ProtocolVersion::parse(v).is_none() => Err(TransportError::UnsupportedVersion(
            v.to_owned(),
            ProtocolVersion::SESSION_ERA.map(|v| v.as_str()).join(", "),
        )),
        _ => Ok(()),
    }
}

/// DELETE `/mcp`: end the session; later use of its id gets 404.
pub(crate) async fn delete(
    State(app): State<App>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        app.hosts().check(&headers)?;
        let who = app
            .gate()
            .authenticate(&headers, &switchboard_http::client::identity(peer))
            .await?;
        if era::decide(&headers) == Era::Modern {
            return Err(TransportError::MethodNotAllowed); // nothing to delete in the stateless era
        }
        let id = guard::session_id(&headers)?.ok_or(TransportError::MissingSession)?;
        let record = app
            .store()
            .load(id)
            .await?
            .ok_or(TransportError::UnknownSession)?;
        app.check_binding(&record, &who)?;
        app.end_session(id).await?;
        tracing::debug!(session = %switchboard_observe::ids::short(id), "session deleted by client");
        Ok(StatusCode::OK.into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

impl App {
    /// One store call on a request's path: a `store` span around it, and
    /// counted in `switchboard_store_errors_total` if it fails.
    pub(crate) async fn store_call<T>(
        &self,
        call: &'static str,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let span = tracing::debug_span!(target: switchboard_telemetry::TARGET, "store", call);
        let result = fut.instrument(span).await;
        if result.is_err() {
            self.metrics().node.store_failed(call);
        }
        result
    }
}
