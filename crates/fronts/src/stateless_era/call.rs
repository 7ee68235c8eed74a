//! Running one catalog method on the stateless path: the previous rounds
//! unsealed, the handler run on its own task with a stateless peer under
//! the gate's permit, and its answer — a result, an `input_required`
//! result with the rounds sealed, a task created, or an error — sent as
//! JSON or on a stream.

use std::sync::Arc;

use axum::response::Response;
use http::StatusCode;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use switchboard_http::error::TransportError;
use switchboard_http::guard::Accepts;
use switchboard_http::reply::json_response;
use switchboard_http::sse;
use switchboard_observe::{access, metrics};
use switchboard_proto::params::ToolCall;
use switchboard_proto::{RequestId, error_json, response_json, result_json};
use switchboard_runtime::{
    ClientPeer, HandlerError, LogFilter, RequestContext, RequestContextBuilder,
};
use switchboard_stateless::seal::target_of;
use switchboard_stateless::{Decision, Meta, ModernPeer, RequestState, modern_error};
use switchboard_store::now_ms;
use switchboard_tenancy::{Permit, Principal};
use tokio::sync::oneshot;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::Fronts;

/// Run a catalog method: unseal the previous rounds, run the handler with a
/// stateless peer, and answer with its result, an `input_required` result,
/// or an error. The handler is cancelled if the client goes away.
pub(super) async fn run(
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
    let cancel = CancellationToken::new();
    let guard = cancel.clone().drop_guard();
    let ctx = context(app, &peer, id, &meta, who, &cancel);
    let permit = app
        .gate()
        .pass(who, None, &who.identity(), method, Some(&target))
        .await?;
    let handling = Handling {
        app: app.clone(),
        who: who.clone(),
        id: id.clone(),
        method: method.to_owned(),
        target,
        params,
        // Kept for the task the call may become (only a peer that accepts
        // tasks lets a tool become one): no copy for the usual call.
        capabilities: if meta.may_become_task {
            meta.capabilities
        } else {
            Value::Null
        },
        peer,
    };
    access::spawn(handling.run(ctx, permit));
    reply(app, accepts, decision, cancel, guard).await
}

/// The handler's context: the stateless peer, the request's `_meta`
/// (progress token, log level, client capabilities), the caller and the
/// cancellation.
fn context(
    app: &Fronts,
    peer: &Arc<ModernPeer>,
    id: &RequestId,
    meta: &Meta,
    who: &Principal,
    cancel: &CancellationToken,
) -> RequestContext {
    let builder = RequestContextBuilder::new(peer.clone() as Arc<dyn ClientPeer>, id.clone())
        .stateless(true)
        .progress_token(meta.progress_token.clone())
        .log_filter(meta.log_level.map_or(LogFilter::Off, LogFilter::AtLeast))
        .client_capabilities(Some(meta.capabilities.clone()))
        .caller(who.caller(None))
        .cancel(cancel.clone());
    app.catalog().context(builder)
}

/// What the handler's task needs, owned.
struct Handling {
    app: Fronts,
    who: Principal,
    id: RequestId,
    method: String,
    target: String,
    params: Option<Box<RawValue>>,
    capabilities: Value,
    peer: Arc<ModernPeer>,
}

impl Handling {
    /// Run the handler under its timeout, account for it, give the permit
    /// back, and finish the peer with the answer.
    async fn run(self, ctx: RequestContext, permit: Permit) {
        let start = std::time::Instant::now();
        let app = &self.app;
        let tool =
            metrics::tool_of(app.catalog(), &self.method, Some(&self.target)).map(str::to_owned);
        let handling = app
            .catalog()
            .handle(&self.method, self.params.as_deref(), ctx);
        let (outcome, label) =
            match tokio::time::timeout(app.config().request_timeout(), handling).await {
                Ok(outcome) => {
                    let label = metrics::outcome(&outcome);
                    (outcome, label)
                }
                Err(_) => {
                    app.metrics().requests.rejected("timeout");
                    let e = switchboard_http::reply::timed_out(app.config().request_timeout_secs);
                    (Err(HandlerError::Rpc(e)), "timeout")
                }
            };
        app.gate().finished(
            &self.who,
            None,
            &self.method,
            tool.as_deref(),
            label,
            start.elapsed(),
        );
        access::outcome(label, metrics::code(&outcome));
        drop(permit);
        let finished = if matches!(outcome, Err(HandlerError::StartTask)) {
            let (_, responses) = self.peer.take_rounds();
            let params = self.params.as_deref();
            Some(
                became_task(
                    app,
                    &self.who,
                    &self.id,
                    params,
                    &self.capabilities,
                    responses,
                )
                .await,
            )
        } else {
            answer(
                app,
                &self.who,
                &self.id,
                &self.method,
                &self.target,
                outcome,
                &self.peer,
            )
        };
        if let Some((status, body)) = finished {
            self.peer.finish(status, body).await;
        }
    }
}

/// The HTTP reply once the handler decided its form: JSON (or one SSE
/// event for a client that takes only streams), or a stream that cancels
/// the handler if the client goes away.
async fn reply(
    app: &Fronts,
    accepts: Accepts,
    decision: oneshot::Receiver<Decision>,
    cancel: CancellationToken,
    guard: DropGuard,
) -> Result<Response, TransportError> {
    let reply = match decision.await {
        Ok(Decision::Json(status, body)) if accepts.json => json_response(status, body),
        Ok(Decision::Json(_, body)) => sse::single(&body),
        Ok(Decision::Sse(rx)) => {
            // Like a request stream of a session: not ended by shutdown.
            let mut end = app.sessions().stream_end_on(cancel);
            end.shutdown = CancellationToken::new();
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
    let ok = |v: Value| Some((StatusCode::OK, result_json(id, &v)));
    match outcome {
        Ok(v) => ok(app.shape_for(who).complete(method, v)),
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
                .shape_for(who)
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
