//! `initialize`: negotiate a version and mint a session.

use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde_json::value::RawValue;
use switchboard_http::error::TransportError;
use switchboard_http::guard::{Accepts, SESSION_HEADER};
use switchboard_http::reply::json_response;
use switchboard_http::reply::reply_now;
use switchboard_proto::{RequestId, error_json, response_json};
use switchboard_session::hello;
use switchboard_store::StoreError;
use switchboard_tenancy::Principal;

use crate::Fronts;

/// Serve `initialize` (sent without a session id).
pub(crate) async fn initialize(
    app: &Fronts,
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
    let sid = match app.sessions().create_session(&hello, who).await {
        Ok(sid) => sid,
        Err(e) => return Ok(e.response_for(Some(&id))),
    };
    let info = who
        .server
        .as_ref()
        .map_or(app.catalog().info(), |s| &s.info);
    let mut result = app.catalog().initialize_result_as(hello.version, info);
    if hello.version == switchboard_proto::ProtocolVersion::V2025_11_25 {
        result["capabilities"]["tasks"] = switchboard_tasks::legacy::capability();
    }
    let result = result.to_string();
    let mut resp = reply_now(accepts, response_json(&id, &result));
    let value =
        HeaderValue::from_str(&sid).map_err(|_| StoreError::Corrupt("session id".into()))?;
    resp.headers_mut().insert(SESSION_HEADER, value);
    Ok(resp)
}
