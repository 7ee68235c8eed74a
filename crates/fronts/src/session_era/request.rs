//! Serving one request of a session over HTTP: the session-layer methods
//! and 2025-11-25 tasks answered at once, the catalog methods run as
//! handler tasks whose first message decides the reply (JSON or SSE).

use std::sync::Arc;

use axum::response::Response;
use serde_json::Value;
use switchboard_http::error::TransportError;
use switchboard_http::guard::Accepts;
use switchboard_http::reply::reply_now;
use switchboard_http::sse;
use switchboard_proto::{
    ErrorCode, ProtocolVersion, RequestId, RpcError, error_json, methods, result_json,
};
use switchboard_runtime::Catalog;
use switchboard_store::EventId;
use tokio::sync::oneshot;

use crate::Fronts;
use switchboard_session::{Call, Decision, LegacyPeer, Session};

/// Serve a request of an open session (anything but `initialize`).
pub(crate) async fn serve(
    app: &Fronts,
    s: Session,
    call: Call,
    accepts: Accepts,
) -> Result<Response, TransportError> {
    if let Some(answer) = app
        .sessions()
        .session_method(&s, &call.method, call.params.as_deref())
        .await?
    {
        return Ok(reply_now(accepts, answer_json(&call.id, answer)));
    }
    // Tasks of 2025-11-25: their methods here, task-augmented calls once
    // admitted (below).
    if call.method != methods::TOOLS_CALL
        && let Some(answer) = legacy_tasks(app, &s, &call).await?
    {
        return Ok(reply_now(accepts, answer_json(&call.id, answer)));
    }
    if !Catalog::handles(&call.method) {
        let e = RpcError::method_not_found(&call.method);
        return Ok(reply_now(accepts, error_json(Some(&call.id), &e)));
    }
    let permit = app
        .gate()
        .pass(
            &s.who,
            Some(&s.live.id),
            &s.live.id,
            &call.method,
            call.named.as_deref(),
        )
        .await?;
    if call.method == methods::TOOLS_CALL
        && let Some(answer) = legacy_tasks(app, &s, &call).await?
    {
        return Ok(reply_now(accepts, answer_json(&call.id, answer)));
    }
    let (tx, decision) = oneshot::channel();
    let peer = Arc::new(
        LegacyPeer::new(
            app.sessions().clone(),
            s.live.clone(),
            s.version,
            accepts.sse,
            Some(tx),
        )
        .answering(call.id.clone()),
    );
    let id = call.id.clone();
    let (task_sessions, task_live) = (app.sessions().clone(), s.live.clone());
    // Only the task holds the peer: if the handler panics, the decision's
    // sender is dropped with it and the exchange is answered below.
    switchboard_observe::access::spawn(async move {
        let response = task_sessions.run(&task_live, call, peer.clone()).await;
        drop(permit);
        peer.finish(response).await;
    });
    Ok(match decision.await {
        Ok(Decision::Json(body)) => reply_now(accepts, body),
        Ok(Decision::Sse { stream, rx }) => stream_response(app, &s, stream, rx),
        Ok(Decision::Cancelled) => reply_now(accepts, error_json(Some(&id), &cancelled())),
        // The handler task ended without an answer: it panicked.
        Err(_) => TransportError::HandlerFailed.response_for(Some(&id)),
    })
}

/// A 2025-11-25 session's request about tasks, answered; `None` otherwise.
/// `tasks/*` requests count against the session's and tenant's rates like
/// any work, but take no running slot: they are a few store operations
/// (`tasks/result` a wait on one), and the task itself runs outside
/// admission.
async fn legacy_tasks(
    app: &Fronts,
    s: &Session,
    call: &Call,
) -> Result<Option<Result<Value, RpcError>>, TransportError> {
    if s.version != ProtocolVersion::V2025_11_25 {
        return Ok(None);
    }
    if switchboard_tasks::legacy::is_method(&call.method) {
        app.gate()
            .check_rates(&s.who, Some(&s.live.id), &s.live.id, None)
            .await?;
    }
    let caps = call.capabilities.as_deref().unwrap_or(&Value::Null);
    let params = call.params.as_deref();
    app.tasks()
        .serve_legacy(&s.who, caps, &call.method, call.named.as_deref(), params)
        .await
}

fn cancelled() -> RpcError {
    RpcError::new(ErrorCode::REQUEST_CANCELLED, "request cancelled")
}

fn answer_json(id: &RequestId, answer: Result<Value, RpcError>) -> String {
    match answer {
        Ok(v) => result_json(id, &v),
        Err(e) => error_json(Some(id), &e),
    }
}

/// The SSE response of a request stream, primed for resumption.
fn stream_response(
    app: &Fronts,
    s: &Session,
    stream: u64,
    rx: switchboard_http::frames::Receiver,
) -> Response {
    let first = s
        .version
        .wants_priming_event()
        .then(|| sse::priming(EventId { stream, seq: 0 }, app.config().sse_retry_ms));
    sse::response(
        first,
        rx,
        app.config().keep_alive(),
        app.sessions().request_stream_end(&s.live),
    )
}
