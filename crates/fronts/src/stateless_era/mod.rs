//! The stateless protocol era (2026-07-28) on `/mcp`: every request stands
//! alone, carrying its version and client capabilities in `_meta`. Nothing
//! here creates session state; what must survive between rounds of an
//! `input_required` exchange travels, sealed, with the client.

mod listen;

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use switchboard_http::error::TransportError;
use switchboard_http::guard::{self, Accepts};
use switchboard_http::reply::accepted;
use switchboard_http::reply::json_response;
use switchboard_http::sse;
use switchboard_proto::params::{self, ToolCall};
use switchboard_proto::version::MODERN;
use switchboard_proto::{Incoming, Message, RequestId, error_json, methods, response_json};
use switchboard_runtime::{Catalog, ClientPeer, HandlerError, LogFilter, RequestContextBuilder};
use switchboard_stateless::names::{DISCOVER, REMOVED};
use switchboard_stateless::seal::target_of;
use switchboard_stateless::{
    Decision, Meta, ModernPeer, RequestState, headers, meta, modern_error,
};
use switchboard_store::now_ms;
use switchboard_tenancy::Principal;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

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
            &app.shape().discover().to_string(),
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
            Ok(json_ok(response_json(id, &result.to_string())))
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
                        .pass(who, None, &who.identity(), method, params.as_deref())
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
            run(app, accepts, id, method, params, meta, who).await
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

/// Run a catalog method: unseal the previous rounds, run the handler with a
/// stateless peer, and answer with its result, an `input_required` result,
/// or an error. The handler is cancelled if the client goes away.
async fn run(
    app: &Fronts,
    accepts: Accepts,
    id: &RequestId,
    method: &str,
    params: Option<Box<RawValue>>,
    meta: Meta,
    who: &Principal,
) -> Result<Response, TransportError> {
    let target = target_of(method, params.as_deref());
    let mut responses = match &meta.request_state {
        None => Map::new(),
        Some(token) => open_state(app, token, method, &target, &who.binding())?,
    };
    responses.extend(meta.input_responses.clone().unwrap_or_default());

    let (tx, decision) = oneshot::channel();
    let peer = Arc::new(
        ModernPeer::new(responses, accepts.sse, app.config().stream_buffer, tx)
            .with_tasks(meta.may_become_task),
    );
    // Kept for the task the call may become (only a peer that accepts
    // tasks lets a tool become one): no copy for the usual call.
    let capabilities = if meta.may_become_task {
        meta.capabilities.clone()
    } else {
        Value::Null
    };
    let cancel = CancellationToken::new();
    let guard = cancel.clone().drop_guard();
    let builder = RequestContextBuilder::new(peer.clone() as Arc<dyn ClientPeer>, id.clone())
        .stateless(true)
        .progress_token(meta.progress_token.clone())
        .log_filter(meta.log_level.map_or(LogFilter::Off, LogFilter::AtLeast))
        .client_capabilities(Some(meta.capabilities.clone()))
        .caller(who.caller(None))
        .cancel(cancel.clone());
    let ctx = app.catalog().context(builder);
    let permit = app
        .gate()
        .pass(who, None, &who.identity(), method, params.as_deref())
        .await?;
    let (task_app, task_id, task_method) = (app.clone(), id.clone(), method.to_owned());
    let task_who = who.clone();
    switchboard_observe::access::spawn(async move {
        let start = std::time::Instant::now();
        let tool = switchboard_observe::metrics::tool_of(
            task_app.catalog(),
            &task_method,
            params.as_deref(),
        )
        .map(std::borrow::Cow::into_owned);
        let handling = task_app
            .catalog()
            .handle(&task_method, params.as_deref(), ctx);
        let (outcome, label) =
            match tokio::time::timeout(task_app.config().request_timeout(), handling).await {
                Ok(outcome) => {
                    let label = switchboard_observe::metrics::outcome(&outcome);
                    (outcome, label)
                }
                Err(_) => {
                    task_app.metrics().requests.rejected("timeout");
                    (
                        Err(HandlerError::Rpc(switchboard_http::reply::timed_out(
                            task_app.config().request_timeout_secs,
                        ))),
                        "timeout",
                    )
                }
            };
        let took = start.elapsed();
        task_app
            .gate()
            .finished(&task_who, None, &task_method, tool.as_deref(), label, took);
        switchboard_observe::access::outcome(label, switchboard_observe::metrics::code(&outcome));
        drop(permit);
        if matches!(outcome, Err(HandlerError::StartTask)) {
            let (_, responses) = peer.take_rounds();
            let (status, body) = became_task(
                &task_app,
                &task_who,
                &task_id,
                params.as_deref(),
                &capabilities,
                responses,
            )
            .await;
            peer.finish(status, body).await;
        } else if let Some((status, body)) = answer(
            &task_app,
            &task_who,
            &task_id,
            &task_method,
            &target,
            outcome,
            &peer,
        ) {
            peer.finish(status, body).await;
        }
    });
    let reply = match decision.await {
        Ok(Decision::Json(status, body)) if accepts.json => json_response(status, body),
        Ok(Decision::Json(_, body)) => sse::single(&body),
        Ok(Decision::Sse(rx)) => {
            // Like a request stream of a session: not ended by shutdown.
            let mut end = app.sessions().stream_end_on(cancel.clone());
            end.shutdown = tokio_util::sync::CancellationToken::new();
            return Ok(sse::response_guarded(
                None,
                rx,
                app.config().keep_alive(),
                end,
                Some(guard),
            ));
        }
        // The handler task ended without an answer: it panicked.
        Err(_) => return Err(TransportError::HandlerFailed),
    };
    guard.disarm();
    Ok(reply)
}

/// The handler asked to continue as a task: create it with the answers
/// gathered so far, and answer with its `CreateTaskResult`.
async fn became_task(
    app: &Fronts,
    who: &Principal,
    id: &RequestId,
    params: Option<&RawValue>,
    capabilities: &Value,
    responses: Map<String, Value>,
) -> (StatusCode, String) {
    // The call ran, so its params were read before.
    let call = match ToolCall::read(params) {
        Ok(c) => switchboard_tasks::Call::of(&c, capabilities, responses),
        Err(e) => return (StatusCode::BAD_REQUEST, error_json(Some(id), &e)),
    };
    match app.tasks().start(who, call).await {
        Ok(created) => (StatusCode::OK, response_json(id, &created.to_string())),
        Err(e) => (e.status(), error_json(Some(id), &e.rpc())),
    }
}

/// The final answer of a handler, as an HTTP status and JSON-RPC message;
/// `None` when it was cancelled (the client is gone).
fn answer(
    app: &Fronts,
    who: &Principal,
    id: &RequestId,
    method: &str,
    target: &str,
    outcome: Result<Value, HandlerError>,
    peer: &ModernPeer,
) -> Option<(StatusCode, String)> {
    let ok = |v: Value| Some((StatusCode::OK, response_json(id, &v.to_string())));
    match outcome {
        Ok(v) => ok(app.shape().complete(method, v)),
        Err(HandlerError::InputRequired) => {
            let (missing, responses) = peer.take_rounds();
            let ttl = app.config().request_state_ttl_secs * 1000;
            let state = RequestState {
                method: method.to_owned(),
                target: target.to_owned(),
                principal: who.binding(),
                responses,
                expires_ms: now_ms() + ttl,
            };
            ok(app
                .shape()
                .input_required(missing, app.sealer().seal(&state)))
        }
        Err(HandlerError::Cancelled) => None,
        // Handled before: the call became a task.
        Err(HandlerError::StartTask) => {
            let e = TransportError::HandlerFailed;
            Some((e.status(), error_json(Some(id), &e.rpc())))
        }
        Err(HandlerError::MissingCapability(cap)) => {
            let e = TransportError::MissingCapability(cap);
            Some((e.status(), error_json(Some(id), &e.rpc())))
        }
        Err(HandlerError::Rpc(e)) => {
            let e = modern_error(e);
            Some((status_of(e.code), error_json(Some(id), &e)))
        }
    }
}

/// The HTTP status of a JSON-RPC error on the stateless path: request
/// errors are 400, an unknown method 404, anything else travels in a 200.
fn status_of(code: switchboard_proto::ErrorCode) -> StatusCode {
    match code.0 {
        -32700 | -32600 | -32602 | -32022..=-32020 => StatusCode::BAD_REQUEST,
        -32601 => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

fn open_state(
    app: &Fronts,
    token: &str,
    method: &str,
    target: &str,
    principal: &str,
) -> Result<Map<String, Value>, TransportError> {
    let state = app
        .sealer()
        .open(token, now_ms())
        .map_err(|e| TransportError::BadRequestState(e.to_string()))?;
    if state.method != method || state.target != target || state.principal != principal {
        return Err(TransportError::BadRequestState(
            "requestState belongs to another request".into(),
        ));
    }
    Ok(state.responses)
}
