//! `initialize`: negotiate a version and mint a session.

use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use switchboard_proto::{ProtocolVersion, RequestId, RpcError, error_json, response_json};
use switchboard_store::{SessionRecord, StoreError};

use crate::app::App;
use crate::error::{TransportError, json_response};
use crate::guard::{Accepts, SESSION_HEADER};
use crate::ids::mint_session_id;
use crate::mcp::request::reply_now;
use crate::peer::short;

#[derive(Deserialize)]
struct Params {
    #[serde(rename = "protocolVersion")]
    protocol_version: String,
    #[serde(default)]
    capabilities: Option<Box<RawValue>>,
    #[serde(rename = "clientInfo", default)]
    client_info: Option<Box<RawValue>>,
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| unreachable!("valid JSON"))
}

/// Serve `initialize` (sent without a session id).
pub(crate) async fn initialize(
    app: &App,
    id: RequestId,
    params: Option<Box<RawValue>>,
    accepts: Accepts,
) -> Result<Response, TransportError> {
    let text = params.as_deref().map(RawValue::get).unwrap_or("{}");
    let p: Params = match serde_json::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            let err = RpcError::invalid_params(format!("initialize: {e}"));
            return Ok(json_response(
                StatusCode::BAD_REQUEST,
                error_json(Some(&id), &err),
            ));
        }
    };
    let version = ProtocolVersion::negotiate(Some(&p.protocol_version));
    let sid =
        mint_session_id().map_err(|e| StoreError::Unavailable(format!("no randomness: {e}")))?;
    let record = SessionRecord::new(
        sid.clone(),
        version.as_str(),
        p.capabilities.unwrap_or_else(empty_object),
        p.client_info.unwrap_or_else(empty_object),
        None,
    );
    app.store().create(record).await?;
    app.registry().get_or_create(&sid, |_| {});
    tracing::debug!(session = %short(&sid), version = %version, "session created");
    let result = app.catalog().initialize_result(version).to_string();
    let mut resp = reply_now(accepts, &response_json(&id, &result));
    let value =
        HeaderValue::from_str(&sid).map_err(|_| StoreError::Corrupt("session id".into()))?;
    resp.headers_mut().insert(SESSION_HEADER, value);
    Ok(resp)
}
