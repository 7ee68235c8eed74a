//! Resolving a request's session, and DELETE.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use switchboard_proto::ProtocolVersion;
use switchboard_store::{SessionRecord, now_ms};

use crate::app::App;
use crate::era::{self, Era};
use crate::error::TransportError;
use crate::guard;
use crate::live::LiveSession;

/// A resolved session: its durable record and its live part on this node.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) record: SessionRecord,
    pub(crate) live: Arc<LiveSession>,
    pub(crate) version: ProtocolVersion,
}

impl App {
    /// Resolve the session a request names: 400 without an id, 404 for an
    /// unknown or ended one, 400 for an unsupported `MCP-Protocol-Version`.
    pub(crate) async fn open_session(
        &self,
        headers: &HeaderMap,
    ) -> Result<Session, TransportError> {
        let id = guard::session_id(headers)?.ok_or(TransportError::MissingSession)?;
        check_version_header(headers)?;
        self.open_session_id(id).await
    }

    /// Resolve a session by id: 404 if unknown or ended.
    pub(crate) async fn open_session_id(&self, id: &str) -> Result<Session, TransportError> {
        let record = self
            .store()
            .load(id)
            .await?
            .ok_or(TransportError::UnknownSession)?;
        let live = self
            .registry()
            .get_or_create(id, |l| l.set_subscriptions(&record.subscriptions));
        let now = now_ms();
        if live.should_touch_store(now) {
            self.store().touch(id, now).await?;
        }
        let version = ProtocolVersion::parse(&record.protocol_version)
            .unwrap_or(ProtocolVersion::LATEST_SESSION);
        Ok(Session {
            record,
            live,
            version,
        })
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
pub(crate) async fn delete(State(app): State<App>, headers: HeaderMap) -> Response {
    let result = async {
        app.hosts().check(&headers)?;
        if era::decide(&headers) == Era::Modern {
            return Err(TransportError::MethodNotAllowed); // nothing to delete in the stateless era
        }
        let id = guard::session_id(&headers)?.ok_or(TransportError::MissingSession)?;
        if app.store().load(id).await?.is_none() {
            return Err(TransportError::UnknownSession);
        }
        app.end_session(id).await?;
        tracing::debug!(session = %crate::peer::short(id), "session deleted by client");
        Ok(StatusCode::OK.into_response())
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
