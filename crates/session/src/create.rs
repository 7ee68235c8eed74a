//! `initialize` read once (`hello`, for every transport), and a new
//! session made: room under the caps and quotas (`session_cap_policy`:
//! reject, evict the longest-idle session of the same tenant, or queue),
//! then its record stored and its live part counted.

use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use switchboard_config::CapPolicy;
use switchboard_http::error::TransportError;
use switchboard_observe::ids::{mint_session_id, short};
use switchboard_proto::{ProtocolVersion, RpcError};
use switchboard_store::{Admitted, SessionRecord, StoreError, now_ms};
use switchboard_tenancy::Principal;
use switchboard_tenancy::capacity::{identity_key, session_quotas, tenant_key};

use crate::sessions::Sessions;

#[derive(Deserialize)]
struct Params {
    #[serde(rename = "protocolVersion")]
    protocol_version: String,
    #[serde(default)]
    capabilities: Option<Box<RawValue>>,
    #[serde(rename = "clientInfo", default)]
    client_info: Option<Box<RawValue>>,
}

/// An empty JSON object.
pub fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| unreachable!("valid JSON"))
}

/// What `initialize` asks for: the negotiated version, and the client's
/// capabilities and info as raw JSON.
#[derive(Debug)]
pub struct Hello {
    /// The version negotiated.
    pub version: ProtocolVersion,
    /// The client's `capabilities` (`{}` if absent).
    pub capabilities: Box<RawValue>,
    /// The client's `clientInfo` (`{}` if absent).
    pub client_info: Box<RawValue>,
}

/// Read `initialize` params and negotiate the version: the one reader of
/// them (Streamable HTTP, HTTP+SSE, stdio). `capabilities` and `clientInfo`
/// are objects (or absent: `{}`), kept for the session's life, so together
/// they may take at most `max_bytes` (`max_session_bytes`) of JSON text.
pub fn hello(params: Option<&RawValue>, max_bytes: usize) -> Result<Hello, RpcError> {
    let p: Params =
        switchboard_proto::params::parse(switchboard_proto::methods::INITIALIZE, params)?;
    for (field, raw) in [
        ("capabilities", &p.capabilities),
        ("clientInfo", &p.client_info),
    ] {
        if raw.as_deref().is_some_and(|r| !r.get().starts_with('{')) {
            return Err(RpcError::invalid_params(format!(
                "initialize: {field} must be an object"
            )));
        }
    }
    let hello = Hello {
        version: ProtocolVersion::negotiate(Some(&p.protocol_version)),
        capabilities: p.capabilities.unwrap_or_else(empty_object),
        client_info: p.client_info.unwrap_or_else(empty_object),
    };
    let bytes = hello.capabilities.get().len() + hello.client_info.get().len();
    if bytes > max_bytes {
        let too_large = TransportError::TooLarge {
            what: "initialize: capabilities and clientInfo",
            bytes,
            max: max_bytes,
        };
        return Err(too_large.rpc());
    }
    Ok(hello)
}

impl Sessions {
    /// Make room (session caps, the tenant's quota, the identity's byte
    /// budget), then mint an id and store a new session bound to `who`.
    pub async fn create_session(
        &self,
        hello: &Hello,
        who: &Principal,
    ) -> Result<String, TransportError> {
        self.create(hello, who, false).await
    }

    /// [`create_session`](Self::create_session) for a session that lives
    /// only while one stream to this node is open (2024-11-05 HTTP+SSE):
    /// [tethered](SessionRecord::tethered), renewed by this node's sweeps,
    /// so if this node dies another ends it soon after.
    pub async fn create_tethered_session(
        &self,
        hello: &Hello,
        who: &Principal,
    ) -> Result<String, TransportError> {
        self.create(hello, who, true).await
    }

    async fn create(
        &self,
        hello: &Hello,
        who: &Principal,
        tethered: bool,
    ) -> Result<String, TransportError> {
        if self.lifecycle().is_draining() {
            self.metrics().requests.rejected("draining");
            return Err(TransportError::Draining);
        }
        let sid = mint_session_id()
            .map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
        let mut record = SessionRecord::new(
            sid.clone(),
            hello.version.as_str(),
            hello.capabilities.clone(),
            hello.client_info.clone(),
            Some(who.binding()),
        );
        record.tethered = tethered;
        let bytes = self.record_fits(&record, "the session's record")?;
        self.make_room(who, bytes).await?;
        let identity = who.identity();
        let quotas = session_quotas(&self.config(), who);
        let admitted = self
            .store_call("create", self.store().create_within(record, &quotas))
            .await?;
        match admitted {
            Admitted::Yes => {}
            Admitted::Refused(i) => return Err(self.gate().refuse_quota(who, &quotas[i])),
            Admitted::OverBytes(_) => return Err(self.gate().refuse_bytes()),
        }
        switchboard_observe::access::session(&sid);
        let live = self.registry().get_or_create(&sid, |live| {
            live.set_owner(&identity, &who.tenant.id);
            if tethered {
                live.tether();
            }
        });
        self.count_record(&live, &identity, bytes);
        self.gate().capacity().opened(&identity_key(&identity));
        self.gate().capacity().opened(&tenant_key(&who.tenant.id));
        self.metrics().tenants.sessions(&who.tenant.id).inc();
        tracing::debug!(session = %short(&sid), tenant = %who.tenant.id, version = %hello.version, "session created");
        Ok(sid)
    }
}

impl Sessions {
    /// Make room for one more session of `who`, whose record takes
    /// `bytes`, or say why not.
    pub async fn make_room(&self, who: &Principal, bytes: usize) -> Result<(), TransportError> {
        let c = self.config();
        let gate = self.gate();
        // This node's counts first (exact for one node; a lower bound of a
        // cluster's, whose store checks again in `create_within`).
        for quota in session_quotas(&c, who) {
            if gate.capacity().count(&quota.group) >= quota.max {
                return Err(gate.refuse_quota(who, &quota));
            }
            if quota
                .max_bytes
                .is_some_and(|max| gate.capacity().held_bytes(&quota.group) + bytes > max)
            {
                return Err(gate.refuse_bytes());
            }
        }
        let policy = c.session_cap_policy;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(c.session_queue_ms);
        loop {
            let waiting = gate.capacity().freed();
            if self.store().count().await? < c.max_sessions {
                return Ok(());
            }
            if matches!(policy, CapPolicy::EvictIdle | CapPolicy::EvictIdleThenQueue)
                && self.evict_one(who).await?
            {
                continue;
            }
            if matches!(policy, CapPolicy::Reject | CapPolicy::EvictIdle) {
                self.metrics().requests.rejected("session_cap");
                return Err(TransportError::SessionCap("session_cap"));
            }
            if tokio::time::timeout_at(deadline, waiting).await.is_err() {
                self.metrics().requests.rejected("session_cap");
                return Err(TransportError::SessionCap("session_cap"));
            }
        }
    }

    /// End the longest-idle session if it has idled long enough and belongs
    /// to `who`'s tenant: one tenant never ends another's sessions.
    async fn evict_one(&self, who: &Principal) -> Result<bool, TransportError> {
        let min_idle = self.config().evict_min_idle_secs * 1000;
        let Some(victim) = self
            .store()
            .longest_idle(now_ms().saturating_sub(min_idle))
            .await?
        else {
            return Ok(false);
        };
        let own = format!("{}/", who.tenant.id);
        let same_tenant = self
            .store()
            .load(&victim)
            .await?
            .is_some_and(|r| r.principal.is_some_and(|p| p.starts_with(&own)));
        if !same_tenant {
            return Ok(false);
        }
        tracing::info!(session = %switchboard_observe::ids::short(&victim), "evicted the longest-idle session to admit a new one");
        self.metrics().sessions.evicted();
        self.end_session(&victim).await?;
        Ok(true)
    }
}
