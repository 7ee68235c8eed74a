//! The stateless protocol era (2026-07-28) on `/mcp`: every request stands
//! alone, carrying its version and client capabilities in `_meta`. Nothing
//! here creates session state; what must survive between rounds of an
//! `input_required` exchange travels, sealed, with the client.

mod call;
mod listen;

pub(crate) use listen::METHOD as LISTEN;

use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use switchboard_http::error::TransportError;
use switchboard_http::guard::{self, Accepts};
use switchboard_http::reply::accepted;
use switchboard_http::reply::json_response;
use switchboard_proto::params::{self, ToolCall};
use switchboard_proto::version::MODERN;
use switchboard_proto::{Incoming, Message, RequestId, methods, response_json, result_json};
use switchboard_runtime::Catalog;
use switchboard_stateless::names::{DISCOVER, REMOVED};
use switchboard_stateless::{headers, meta};
use switchboard_tenancy::Principal;

use crate::Fronts;

/// Serve one stateless POST of `who`; the client's address keys its place
/// in its tenant's admission queue (there is no session).
pub(crate) async fn serve(
    app: &Fronts,
    who: &Principal,
    headers: &HeaderMap,
    accepts: Accepts,
    incoming: Incoming,
) -> Result<Response, TransportError> {
    let Incoming::Single(message) = incoming else {
        return Err(TransportError::BatchNotSupported(MODERN.into()));
    };
    match message {
        Message::Response { .. } => Err(TransportError::UnexpectedResponse),
        // No client notification means anything without a session; accept
        // it if it is well-formed.
        Message::Notification { method, params } => {
            params::check(&method, params.as_deref()).map_err(TransportError::InvalidParams)?;
            Ok(accepted())
        }
        Message::Request { id, method, params } => {
            match request(app, who, headers, accepts, &id, &method, params).await {
                Ok(resp) => Ok(resp),
                Err(e) => Ok(e.response_for(Some(&id))),
            }
        }
    }
}

async fn request(
    app: &Fronts,
    who: &Principal,
    headers: &HeaderMap,
    accepts: Accepts,
    id: &RequestId,
    method: &str,
    params: Option<Box<RawValue>>,
) -> Result<Response, TransportError> {
    // The checks run in the spec's order; the first failure answers. MCP
    // params are an object: nothing else is read further.
    params::check(method, params.as_deref()).map_err(TransportError::InvalidParams)?;
    // A version header naming no version this server speaks came here only
    // to be refused: say so, with the supported ones, rather than ask for
    // the `_meta` of a version the client never named.
    if let Some(v) = guard::protocol_version(headers)
        && !switchboard_proto::version::ALL_SUPPORTED.contains(&v)
    {
        return Err(TransportError::UnsupportedModernVersion(v.to_owned()));
    }
    let params_value: Value = match &params {
        Some(raw) => serde_json::from_str(raw.get())
            .map_err(|e| TransportError::MissingMeta(e.to_string()))?,
        None => Value::Object(Map::new()),
    };
    let meta = meta::parse(&params_value).map_err(TransportError::MissingMeta)?;
    if guard::protocol_version(headers) != Some(meta.version.as_str()) {
        return Err(TransportError::HeaderMismatch(format!(
            "MCP-Protocol-Version does not match _meta protocolVersion {:?}",
            meta.version
        )));
    }
    headers::check(headers, method, params.as_deref()).map_err(TransportError::HeaderMismatch)?;
    if meta.version != MODERN {
        return Err(TransportError::UnsupportedModernVersion(meta.version));
    }
    match method {
        DISCOVER => Ok(json_ok(response_json(
            id,
            &app.shape_for(who).discover().to_string(),
        ))),
        listen::METHOD => listen::serve(app, who, id.clone(), &params_value, accepts).await,
        m if switchboard_tasks::is_method(m) => {
            // Work against the caller's rates; no running slot (a few store
            // operations; the task runs outside admission).
            app.gate()
                .check_rates(who, None, &who.identity(), None)
                .await?;
            let caps = &meta.capabilities;
            let result = app
                .tasks()
                .serve(who, m, params.as_deref(), &params_value, caps)
                .await?;
            Ok(json_ok(result_json(id, &result)))
        }
        m if REMOVED.contains(&m) || !Catalog::handles(m) => {
            Err(TransportError::MethodNotFound(m.to_owned()))
        }
        _ => {
            let mut plan = switchboard_tasks::Plan::Sync;
            if method == methods::TOOLS_CALL {
                // The one reader of the gate and the catalog: what it
                // refuses runs nowhere.
                let call =
                    ToolCall::read(params.as_deref()).map_err(TransportError::InvalidParams)?;
                // The same arguments: the reader refuses a repeated key.
                check_tool(app, who, headers, &call.name, params_value.get("arguments"))?;
                plan = app.tasks().plan(who, &call, &meta.capabilities)?;
                if plan == switchboard_tasks::Plan::Task {
                    let _permit = app
                        .gate()
                        .pass(who, None, &who.identity(), method, Some(&call.name))
                        .await?;
                    let responses = meta.input_responses.clone().unwrap_or_default();
                    let task = switchboard_tasks::Call::of(&call, &meta.capabilities, responses);
                    let tool = task.tool.clone();
                    let created = app.tasks().start(who, task).await?;
                    app.tasks().finished(who, None, &tool);
                    return Ok(json_ok(response_json(id, &created.to_string())));
                }
            }
            let mut meta = meta;
            meta.may_become_task = plan == switchboard_tasks::Plan::Foreground;
            call::run(app, accepts, id, method, params, meta, who).await
        }
    }
}

fn json_ok(body: String) -> Response {
    json_response(StatusCode::OK, body)
}

/// Before a tool runs: its `Mcp-Param-*` headers, and the client
/// capabilities it declares it needs.
/// A tool the caller may not use is left to the catalog, which answers it
/// like an unknown one: its headers are not checked, so they reveal
/// nothing.
fn check_tool(
    app: &Fronts,
    who: &Principal,
    headers: &HeaderMap,
    name: &str,
    arguments: Option<&Value>,
) -> Result<(), TransportError> {
    let Some(schema) = Some(name)
        .filter(|n| switchboard_runtime::Access::tool(&*who.tenant.policy, n))
        .and_then(|n| app.catalog().tool_input_schema(n))
    else {
        return Ok(()); // unknown tools are answered by the catalog
    };
    let arguments = arguments.unwrap_or(&Value::Null);
    headers::check_params(headers, &schema, arguments).map_err(TransportError::HeaderMismatch)
}
