//! Resolving the session a request names: its record (refreshing when it
//! was last seen), the binding to the principal that created it, its live
//! part on this node, its protocol version.

use std::sync::Arc;

use http::HeaderMap;
use switchboard_http::error::TransportError;
use switchboard_http::guard;
use switchboard_proto::ProtocolVersion;
use switchboard_store::{SessionRecord, now_ms};
use switchboard_tenancy::Principal;

use crate::live::LiveSession;
use crate::sessions::Sessions;

/// A resolved session: its durable record and its live part on this node.
#[derive(Debug)]
pub struct Session {
    /// Its durable record, as loaded (shared with the store when it keeps
    /// records in memory: a change is a copy, saved).
    pub record: Arc<SessionRecord>,
    /// Its live part on this node.
    pub live: Arc<LiveSession>,
    /// Its protocol version.
    pub version: ProtocolVersion,
    /// Who sent the request (the session's own principal).
    pub who: Principal,
}

impl Sessions {
    /// Resolve the session a request names: 400 without an id, 404 for an
    /// unknown or ended one, 400 for an unsupported `MCP-Protocol-Version`.
    pub async fn open_session(
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
    pub async fn open_session_id(
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
        let known = self.registry().get(id);
        let due = known
            .as_ref()
            .is_some_and(|live| live.should_touch_store(now));
        let loading = async {
            if due {
                self.store().load_and_touch_shared(id, now).await
            } else {
                self.store().load_shared(id).await
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
        let live = match known {
            Some(live) => live,
            None => self.registry().get_or_create(id, |l| {
                l.set_subscriptions(&record.subscriptions);
                if record.initialized {
                    l.greet();
                }
            }),
        };
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
    pub fn check_binding(
        &self,
        record: &SessionRecord,
        who: &Principal,
    ) -> Result<(), TransportError> {
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
pub fn check_version_header(headers: &HeaderMap) -> Result<(), TransportError> {
    match guard::protocol_version(headers) {
        Some(v) if ProtocolVersion::parse(v).is_none() => Err(TransportError::UnsupportedVersion(
            v.to_owned(),
            ProtocolVersion::SESSION_ERA.map(|v| v.as_str()).join(", "),
        )),
        _ => Ok(()),
    }
}
