//! What a session keeps, bounded. A session's record (the client's
//! `capabilities` and `clientInfo`, its subscriptions, its log level) may
//! take at most `max_session_bytes` ([`SessionRecord::stored_bytes`], the
//! one measure: the length of the record's JSON), and the records of one
//! client identity together at most `max_session_bytes_per_identity`.
//!
//! Every write of a session record is checked here: by [`Sessions::record_fits`]
//! when `initialize` (or `GET /sse`) creates one (`Sessions::create_session`), by
//! [`Sessions::save_session`] when a session changes it. The store refuses a record over the bound too
//! (each backend is built with `max_session_bytes`), so no store keeps one
//! whatever path a write takes.
//!
//! The per-identity budget is counted twice, as the session counts are:
//! on this node (`Capacity`, the sessions this node created — exact with
//! the memory and file stores, whose sessions all live on one node), and
//! in a shared store across nodes (`create_within`, `update_within`: a
//! Redis script on the quota group's byte set), which is the cluster-wide
//! bound.

use switchboard_http::error::TransportError;
use switchboard_store::{SessionRecord, Updated};
use switchboard_tenancy::capacity::{identity_key, session_quotas};

use crate::live::LiveSession;
use crate::open::Session;
use crate::sessions::Sessions;

impl Sessions {
    /// The size of `record` (`what` names it in the refusal), if a session
    /// may keep it: 400 / -32602 past `max_session_bytes`.
    pub fn record_fits(
        &self,
        record: &SessionRecord,
        what: &'static str,
    ) -> Result<usize, TransportError> {
        let max = self.config().max_session_bytes;
        let bytes = record.stored_bytes();
        if bytes > max {
            self.metrics().requests.rejected("session_bytes");
            return Err(TransportError::TooLarge { what, bytes, max });
        }
        Ok(bytes)
    }

    /// Count a session `live` of `identity`, just admitted with a record of
    /// `bytes`, on this node.
    pub fn count_record(&self, live: &LiveSession, identity: &str, bytes: usize) {
        let before = live.swap_charged(bytes);
        self.gate()
            .capacity()
            .resize(&identity_key(identity), before, bytes);
    }

    /// Whether session `s` may keep `record` (a changed copy of its own):
    /// within `max_session_bytes`, and its growth within its identity's
    /// budget as this node counts it. Returns the record's size.
    pub fn room_for(&self, s: &Session, record: &SessionRecord) -> Result<usize, TransportError> {
        let bytes = self.record_fits(record, "the session's record")?;
        if let Some((identity, _)) = s.live.owner() {
            let before = s.live.charged();
            let held = self.gate().capacity().held_bytes(&identity_key(identity));
            let budget = self.config().max_session_bytes_per_identity;
            if bytes > before && held.saturating_sub(before) + bytes > budget {
                return Err(self.gate().refuse_bytes());
            }
        }
        Ok(bytes)
    }

    /// Store `record`, session `s`'s changed record, if it has room
    /// ([`Sessions::room_for`], then the store's count across nodes); a session
    /// gone meanwhile is left gone.
    pub async fn save_session(
        &self,
        s: &Session,
        record: &SessionRecord,
    ) -> Result<(), TransportError> {
        let bytes = self.room_for(s, record)?;
        let quotas = session_quotas(&self.config(), &s.who);
        let saved = self
            .store_call("update", self.store().update_within(record, &quotas))
            .await?;
        match saved {
            Updated::Yes => {}
            Updated::Gone => return Ok(()),
            Updated::OverBytes(_) => return Err(self.gate().refuse_bytes()),
        }
        if let Some((identity, _)) = s.live.owner() {
            self.count_record(&s.live, identity, bytes);
        }
        Ok(())
    }

    /// Give back the bytes this node counted for `live` (it ended).
    pub fn uncount_record(&self, live: &LiveSession) {
        if let Some((identity, _)) = live.owner() {
            let before = live.swap_charged(0);
            self.gate()
                .capacity()
                .resize(&identity_key(identity), before, 0);
        }
    }
}
