//! Serving one request of a session: the session-layer methods answered
//! here, and the catalog methods run as handler tasks.

use std::sync::Arc;

use axum::response::Response;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_http::Frame;
use switchboard_http::error::TransportError;
use switchboard_http::guard::Accepts;
use switchboard_http::reply::reply_now;
use switchboard_http::sse;
use switchboard_proto::params::{self, Cancelled, ResourceUri, SetLevel};
use switchboard_proto::{
    ErrorCode, ProtocolVersion, RequestId, RpcError, error_json, methods, response_json,
};
use switchboard_runtime::{
    Catalog, ClientPeer, HandlerError, LogFilter, LogLevel, RequestContextBuilder,
};
use switchboard_session::LiveSession;
use switchboard_store::EventId;
use switchboard_tenancy::Principal;
use tokio::sync::oneshot;

use crate::app::App;
use switchboard_session::Session;
use switchboard_session::{Decision, LegacyPeer};

/// Most resource subscriptions one session may hold (the stdio front's
/// one client too).
pub(crate) const MAX_SUBSCRIPTIONS: usize = 1000;

/// What a handler task needs to know about its request.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) id: RequestId,
    pub(crate) method: String,
    pub(crate) params: Option<Box<RawValue>>,
    log_filter: LogFilter,
    capabilities: Option<Value>,
    who: Principal,
}

impl Call {
    pub(crate) fn new(
        s: &Session,
        id: RequestId,
        method: String,
        params: Option<Box<RawValue>>,
    ) -> Self {
        Self {
            id,
            method,
            params,
            log_filter: s
                .record
                .log_level
                .as_deref()
                .and_then(LogLevel::parse)
                .map_or(LogFilter::All, LogFilter::AtLeast),
            capabilities: serde_json::from_str(s.record.client_capabilities.get()).ok(),
            who: s.who.clone(),
        }
    }
}

/// Serve a request of an open session (anything but `initialize`).
pub(crate) async fn serve(
    app: &App,
    s: Session,
    call: Call,
    accepts: Accepts,
) -> Result<Response, TransportError> {
    if let Some(answer) = session_method(app, &s, &call.method, call.params.as_deref()).await? {
        return Ok(reply_now(accepts, &answer_json(&call.id, answer)));
    }
    // Tasks of 2025-11-25: their methods here, task-augmented calls once
    // admitted (below).
    if call.method != methods::TOOLS_CALL
        && let Some(answer) = legacy_tasks(app, &s, &call).await?
    {
        return Ok(reply_now(accepts, &answer_json(&call.id, answer)));
    }
    if !Catalog::handles(&call.method) {
        let e = RpcError::method_not_found(&call.method);
        return Ok(reply_now(accepts, &error_json(Some(&call.id), &e)));
    }
    let permit = app
        .gate()
        .pass(
            &s.who,
            Some(&s.live.id),
            &s.live.id,
            &call.method,
            call.params.as_deref(),
        )
        .await?;
    if call.method == methods::TOOLS_CALL
        && let Some(answer) = legacy_tasks(app, &s, &call).await?
    {
        return Ok(reply_now(accepts, &answer_json(&call.id, answer)));
    }
    let (tx, decision) = oneshot::channel();
    let peer = Arc::new(LegacyPeer::new(
        app.sessions().clone(),
        s.live.clone(),
        s.version,
        accepts.sse,
        Some(tx),
    ));
    let id = call.id.clone();
    let (task_app, task_live) = (app.clone(), s.live.clone());
    // Only the task holds the peer: if the handler panics, the decision's
    // sender is dropped with it and the exchange is answered below.
    switchboard_observe::access::spawn(async move {
        let response = run(&task_app, &task_live, call, peer.clone()).await;
        drop(permit);
        peer.finish(response).await;
    });
    Ok(match decision.await {
        Ok(Decision::Json(body)) => reply_now(accepts, &body),
        Ok(Decision::Sse { stream, rx }) => stream_response(app, &s, stream, rx),
        Ok(Decision::Cancelled) => reply_now(accepts, &error_json(Some(&id), &cancelled())),
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
    app: &App,
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
    let caps = call.capabilities.clone().unwrap_or_default();
    let params = call.params.as_deref();
    app.tasks()
        .serve_legacy(&s.who, &caps, &call.method, params)
        .await
}

fn cancelled() -> RpcError {
    RpcError::new(ErrorCode::REQUEST_CANCELLED, "request cancelled")
}

fn answer_json(id: &RequestId, answer: Result<Value, RpcError>) -> String {
    match answer {
        Ok(v) => response_json(id, &v.to_string()),
        Err(e) => error_json(Some(id), &e),
    }
}

/// The SSE response of a request stream, primed for resumption.
fn stream_response(
    app: &App,
    s: &Session,
    stream: u64,
    rx: tokio::sync::mpsc::Receiver<Frame>,
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

/// Run a catalog method to its final response; `None` when cancelled.
pub(crate) async fn run(
    app: &App,
    live: &LiveSession,
    call: Call,
    peer: Arc<LegacyPeer>,
) -> Option<String> {
    let (token, _running) = live.start(&call.id);
    let builder = RequestContextBuilder::new(peer as Arc<dyn ClientPeer>, call.id.clone())
        .progress_token(params::progress_token(call.params.as_deref()))
        .log_filter(call.log_filter)
        .client_capabilities(call.capabilities)
        .caller(call.who.caller(Some(&live.id)))
        .cancel(token);
    let ctx = app.catalog().context(builder);
    let start = std::time::Instant::now();
    let tool =
        switchboard_observe::metrics::tool_of(app.catalog(), &call.method, call.params.as_deref());
    let handling = app
        .catalog()
        .handle(&call.method, call.params.as_deref(), ctx);
    let Ok(outcome) = tokio::time::timeout(app.config().request_timeout(), handling).await else {
        // Dropping the handler's future cancelled it.
        app.metrics().requests.rejected("timeout");
        switchboard_observe::access::outcome("timeout", Some(ErrorCode::REQUEST_TIMEOUT.0.into()));
        let took = start.elapsed();
        app.gate().finished(
            &call.who,
            Some(&live.id),
            &call.method,
            tool.as_deref(),
            "timeout",
            took,
        );
        return Some(error_json(
            Some(&call.id),
            &switchboard_http::reply::timed_out(app.config().request_timeout_secs),
        ));
    };
    let label = switchboard_observe::metrics::outcome(&outcome);
    let took = start.elapsed();
    app.gate().finished(
        &call.who,
        Some(&live.id),
        &call.method,
        tool.as_deref(),
        label,
        took,
    );
    switchboard_observe::access::outcome(label, switchboard_observe::metrics::code(&outcome));
    match outcome {
        Ok(v) => Some(response_json(&call.id, &v.to_string())),
        Err(HandlerError::Rpc(e)) => Some(error_json(Some(&call.id), &e)),
        Err(HandlerError::Cancelled) => None,
        Err(
            e @ (HandlerError::MissingCapability(_)
            | HandlerError::InputRequired
            | HandlerError::StartTask),
        ) => Some(error_json(
            Some(&call.id),
            &RpcError::invalid_params(e.to_string()),
        )),
    }
}

/// The methods that touch session state rather than the catalog; `None`
/// for any other method.
pub(crate) async fn session_method(
    app: &App,
    s: &Session,
    method: &str,
    params: Option<&RawValue>,
) -> Result<Option<Result<Value, RpcError>>, TransportError> {
    let answer = match method {
        methods::PING => Ok(json!({})),
        methods::INITIALIZE => return Err(TransportError::AlreadyInitialized),
        methods::SET_LEVEL => match SetLevel::read(params) {
            Ok(p) if LogLevel::parse(&p.level).is_some() => {
                let mut record = s.record.clone();
                record.log_level = Some(p.level.into_owned());
                in_band(app.sessions().save_session(s, &record).await)?.map(|()| json!({}))
            }
            Ok(p) => Err(RpcError::invalid_params(format!(
                "logging/setLevel: unknown level {:?}",
                p.level
            ))),
            Err(e) => Err(e),
        },
        methods::RESOURCES_SUBSCRIBE | methods::RESOURCES_UNSUBSCRIBE => {
            subscription(app, s, method == methods::RESOURCES_SUBSCRIBE, params).await?
        }
        _ => return Ok(None),
    };
    Ok(Some(answer))
}

/// A session method's change refused for the record's size is the
/// method's answer (-32602 in a 200, as its other bad params); any other
/// failure (a quota, the store) is the transport's.
fn in_band(saved: Result<(), TransportError>) -> Result<Result<(), RpcError>, TransportError> {
    match saved {
        Err(e @ TransportError::TooLarge { .. }) => Ok(Err(e.rpc())),
        other => other.map(Ok),
    }
}

async fn subscription(
    app: &App,
    s: &Session,
    subscribe: bool,
    params: Option<&RawValue>,
) -> Result<Result<Value, RpcError>, TransportError> {
    let method = if subscribe {
        methods::RESOURCES_SUBSCRIBE
    } else {
        methods::RESOURCES_UNSUBSCRIBE
    };
    let uri = match ResourceUri::read(method, params) {
        Ok(p) => p.uri.into_owned(),
        Err(e) => return Ok(Err(e)),
    };
    let mut record = s.record.clone();
    let catalog = app.catalog();
    let upstream = (!catalog.has_resource(&uri))
        .then(|| {
            catalog
                .providers()
                .iter()
                .find(|p| p.owns_resource(&uri))
                .cloned()
        })
        .flatten();
    if subscribe {
        let visible = catalog.resource_visible(&*s.who.tenant.policy, &uri);
        if !visible || (!catalog.has_resource(&uri) && upstream.is_none()) {
            return Ok(Err(RpcError::new(
                ErrorCode::RESOURCE_NOT_FOUND,
                format!("resource not found: {uri}"),
            )
            .with_data(json!({"uri": uri}))));
        }
        if record.subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Ok(Err(RpcError::invalid_params(format!(
                "at most {MAX_SUBSCRIPTIONS} subscriptions per session"
            ))));
        }
        if !record.subscriptions.contains(&uri) {
            record.subscriptions.push(uri.clone());
        }
        // Before the upstream hears of it: a refusal leaves nothing behind.
        if let Err(e) = in_band(app.sessions().room_for(s, &record).map(drop))? {
            return Ok(Err(e));
        }
    } else {
        record.subscriptions.retain(|u| *u != uri);
    }
    if let Some(p) = upstream {
        let caller = s.who.caller(Some(&s.live.id));
        if let Err(e) = p.subscribe(&uri, subscribe, &caller).await {
            return Ok(Err(RpcError::internal(format!(
                "upstream {}: {e}",
                p.name()
            ))));
        }
    }
    if let Err(e) = in_band(app.sessions().save_session(s, &record).await)? {
        return Ok(Err(e));
    }
    s.live.set_subscriptions(&record.subscriptions);
    Ok(Ok(json!({})))
}

/// Handle a client notification of a session.
pub(crate) async fn notification(
    app: &App,
    s: &Session,
    method: &str,
    params: Option<&RawValue>,
) -> Result<(), TransportError> {
    match method {
        methods::INITIALIZED if !s.record.initialized => {
            let mut record = s.record.clone();
            record.initialized = true;
            app.sessions().save_session(s, &record).await?;
        }
        methods::CANCELLED => {
            if let Ok(c) = Cancelled::read(params)
                && let Ok(id) = RequestId::from_raw(c.request_id)
                && !s.live.cancel(&id)
            {
                app.sessions().route_cancel(&s.live, &id);
            }
        }
        _ => {}
    }
    Ok(())
}
