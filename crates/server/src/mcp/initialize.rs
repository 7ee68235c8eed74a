//! `initialize`: negotiate a version and mint a session.

use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use switchboard_http::error::TransportError;
use switchboard_http::guard::{Accepts, SESSION_HEADER};
use switchboard_http::reply::json_response;
use switchboard_http::reply::reply_now;
use switchboard_observe::ids::{mint_session_id, short};
use switchboard_proto::{ProtocolVersion, RequestId, RpcError, error_json, response_json};
use switchboard_store::{Admitted, SessionRecord, StoreError};
use switchboard_tenancy::Principal;
use switchboard_tenancy::capacity::{identity_key, tenant_key};

use crate::app::App;

#[derive(Deserialize)]
struct Params {
    #[serde(rename = "protocolVersion")]
    protocol_version: String,
    #[serde(default)]
    capabilities: Option<Box<RawValue>>,
    #[serde(rename = "clientInfo", default)]
    client_info: Option<Box<RawValue>>,
}

pub(crate) fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| unreachable!("valid JSON"))
}

/// What `initialize` asks for: the negotiated version, and the client's
/// capabilities and info as raw JSON.
pub(crate) struct Hello {
    pub(crate) version: ProtocolVersion,
    pub(crate) capabilities: Box<RawValue>,
    pub(crate) client_info: Box<RawValue>,
}

/// Read `initialize` params and negotiate the version: the one reader of
/// them (Streamable HTTP, HTTP+SSE, stdio). `capabilities` and `clientInfo`
/// are objects (or absent: `{}`), kept for the session's life, so together
/// they may take at most `max_bytes` (`max_session_bytes`) of JSON text.
pub(crate) fn hello(params: Option<&RawValue>, max_bytes: usize) -> Result<Hello, RpcError> {
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

/// Serve `initialize` (sent without a session id).
pub(crate) async fn initialize(
    app: &App,
    id: RequestId,
    params: Option<Box<RawValue>>,
    accepts: Accepts,
    who: &Principal,
) -> Result<Response, TransportError> {
    let hello = match hello(params.as_deref(), app.config().max_session_bytes) {
        Ok(h) => h,
        Err(err) => {
            return Ok(json_response(
                StatusCode::BAD_REQUEST,
                error_json(Some(&id), &err),
            ));
        }
    };
    // A refusal (draining, caps, quota) names the request it answers.
    let sid = match app.create_session(&hello, who).await {
        Ok(sid) => sid,
        Err(e) => return Ok(e.response_for(Some(&id))),
    };
    let mut result = app.catalog().initialize_result(hello.version);
    if hello.version == switchboard_proto::ProtocolVersion::V2025_11_25 {
        result["capabilities"]["tasks"] = switchboard_tasks::legacy::capability();
    }
    let result = result.to_string();
    let mut resp = reply_now(accepts, &response_json(&id, &result));
    let value =
        HeaderValue::from_str(&sid).map_err(|_| StoreError::Corrupt("session id".into()))?;
    resp.headers_mut().insert(SESSION_HEADER, value);
    Ok(resp)
}

impl App {
    /// Make room (session caps, the tenant's quota, the identity's byte
    /// budget), then mint an id and store a new session bound to `who`.
    pub(crate) async fn create_session(
        &self,
        hello: &Hello,
        who: &Principal,
    ) -> Result<String, TransportError> {
        if self.is_draining() {
            self.metrics().requests.rejected("draining");
            return Err(TransportError::Draining);
        }
        let sid = mint_session_id()
            .map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
        let record = SessionRecord::new(
            sid.clone(),
            hello.version.as_str(),
            hello.capabilities.clone(),
            hello.client_info.clone(),
            Some(who.binding()),
        );
        let bytes = self.record_fits(&record, "the session's record")?;
        self.make_room(who, bytes).await?;
        let identity = who.identity();
        let quotas = switchboard_tenancy::capacity::session_quotas(&self.config(), who);
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
        });
        self.count_record(&live, &identity, bytes);
        self.gate().capacity().opened(&identity_key(&identity));
        self.gate().capacity().opened(&tenant_key(&who.tenant.id));
        self.metrics().tenants.sessions(&who.tenant.id).inc();
        tracing::debug!(session = %short(&sid), tenant = %who.tenant.id, version = %hello.version, "session created");
        Ok(sid)
    }
}
