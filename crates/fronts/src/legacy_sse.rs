//! The 2024-11-05 HTTP+SSE transport: `GET /sse` opens a session and its one
//! stream, whose first event names the endpoint (`/messages?sessionId=…`)
//! that the client POSTs its messages to. Every answer travels on the
//! stream. Same sessions, limits and tools as Streamable HTTP; the session
//! ends when its stream closes (this transport cannot resume).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Uri};
use serde_json::value::RawValue;
use switchboard_http::error::TransportError;
use switchboard_http::guard::{self, Accepts};
use switchboard_http::reply::accepted;
use switchboard_http::sse;
use switchboard_proto::{
    Incoming, Message, ProtocolVersion, RequestId, RpcError, error_json, methods, params,
    parse_body, response_json,
};
use switchboard_runtime::Catalog;
use switchboard_session::{STANDALONE, StreamSlot};
use switchboard_store::SessionRecord;
use tokio_util::sync::CancellationToken;

use crate::Fronts;
use crate::layers::Layers;
use crate::servers::Arrival;
use switchboard_session::Call;
use switchboard_session::LegacyPeer;
use switchboard_session::Session;
use switchboard_session::{Hello, empty_object, hello};

/// `GET /sse` and `POST /messages`, behind the `Host`/`Origin` check; a
/// message POST with its access record (front `messages`).
pub(crate) fn routes(layers: &Layers) -> axum::Router<Fronts> {
    axum::Router::new()
        .route("/sse", layers.guarded(axum::routing::get(open)))
        .route(
            "/messages",
            layers.recorded("messages", axum::routing::post(message)),
        )
        // A virtual server's pair (crate::servers).
        .route(
            "/mcp/{server}/sse",
            layers.guarded(axum::routing::get(open)),
        )
        .route(
            "/mcp/{server}/messages",
            layers.recorded("messages", axum::routing::post(message)),
        )
}

/// `GET /sse`.
pub(crate) async fn open(
    State(app): State<Fronts>,
    arrival: Arrival,
    headers: HeaderMap,
) -> Response {
    open_stream(&app, &arrival, &headers)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn open_stream(
    app: &Fronts,
    arrival: &Arrival,
    headers: &HeaderMap,
) -> Result<Response, TransportError> {
    let who = arrival.authenticate(app.gate(), headers).await?;
    if !Accepts::from_headers(headers).sse {
        return Err(TransportError::NotAcceptable("text/event-stream"));
    }
    let tenant_streams = app.gate().stream_quota(&who, None)?;
    // The session exists from the moment the stream opens; `initialize`
    // fills in what the client says about itself.
    let placeholder = Hello {
        version: ProtocolVersion::V2024_11_05,
        capabilities: empty_object(),
        client_info: empty_object(),
    };
    let sid = app
        .sessions()
        .create_tethered_session(&placeholder, &who)
        .await?;
    let live = app.sessions().registry().get_or_create(&sid, |_| {});
    let (rx, _) = live
        .standalone()
        .attach_exclusive(app.config().stream_buffer)
        .await
        .ok_or(TransportError::StreamConflict)?;
    // A virtual server's session posts to its own messages endpoint.
    let base = who.server.as_ref().map_or_else(String::new, |s| s.path());
    let first = Bytes::from(format!(
        "event: endpoint\ndata: {base}/messages?sessionId={sid}\n\n"
    ));
    // The session ends with its stream.
    let gone = CancellationToken::new();
    let guard = gone.clone().drop_guard();
    let (task_app, closed) = (app.clone(), live.closed.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = gone.cancelled() => {
                if let Err(e) = task_app.sessions().end_session(&sid).await {
                    tracing::warn!(error = %e, "ending an SSE session failed");
                }
            }
            _ = closed.cancelled() => {}
        }
    });
    let mut end = app.sessions().stream_end(&live);
    end.tenant_streams = Some(tenant_streams);
    Ok(sse::response_guarded(
        Some(first),
        rx,
        app.config().keep_alive(),
        end,
        Some(guard),
    ))
}

fn session_param(uri: &Uri) -> Option<&str> {
    uri.query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("sessionId="))
}

/// `POST /messages?sessionId=…`: accepted at once; the answer goes on the stream.
pub(crate) async fn message(
    State(app): State<Fronts>,
    arrival: Arrival,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    post(&app, &arrival, &uri, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn post(
    app: &Fronts,
    arrival: &Arrival,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, TransportError> {
    let who = arrival.authenticate(app.gate(), headers).await?;
    guard::check_json_content_type(headers)?;
    let sid = session_param(uri).ok_or(TransportError::MissingSession)?;
    // Shed at arrival, before the session is loaded or the body read.
    let arrival = crate::arrival::legacy_post(app, &who, sid);
    let s = app.sessions().open_session_id(sid, &who).await?;
    let slot = s
        .live
        .standalone_if_open()
        .ok_or(TransportError::UnknownSession)?;
    let bytes = arrival.body(app, headers, body).await?;
    let incoming = parse_body(&bytes)?;
    arrival.settle(app, &incoming).await?;
    // Counted in hand until the handler's task has its answer.
    let in_hand = arrival.into_arrived();
    let Incoming::Single(message) = incoming else {
        return Err(TransportError::BatchNotSupported(s.version.to_string()));
    };
    match message {
        Message::Notification { method, params } => {
            params::check(&method, params.as_deref()).map_err(TransportError::InvalidParams)?;
            app.sessions()
                .notification(&s, &method, params.as_deref())
                .await?
        }
        Message::Response { id, outcome } => {
            if let Err(outcome) = s.live.answer(&id, outcome) {
                app.sessions().route_answer(&s.live, &id, outcome);
            }
        }
        Message::Request { id, method, params } => {
            app.sessions().initialized_by_use(&s).await?;
            let app = app.clone();
            let named = params::name_of(&method, params.as_deref());
            switchboard_observe::access::method(&method, named.as_deref());
            switchboard_observe::access::spawn(async move {
                let _in_hand = in_hand;
                serve_request(&app, s, slot, id, method, params, named).await
            });
        }
    }
    Ok(accepted())
}

async fn send(app: &Fronts, s: &Session, slot: &StreamSlot, data: String) {
    if let Err(e) = slot
        .emit_unresumable(
            app.sessions().event_log(),
            &s.live.id,
            STANDALONE,
            Arc::from(data),
        )
        .await
    {
        tracing::warn!(error = %e, "event log append failed");
    }
}

/// `named`: what the request names ([`params::name_of`]).
async fn serve_request(
    app: &Fronts,
    mut s: Session,
    slot: Arc<StreamSlot>,
    id: RequestId,
    method: String,
    params: Option<Box<RawValue>>,
    named: Option<String>,
) {
    // MCP params are an object: refused before anything reads them, on the
    // stream like any other request error.
    if let Err(e) = params::check(&method, params.as_deref()) {
        return send(app, &s, &slot, error_json(Some(&id), &e)).await;
    }
    if method == methods::INITIALIZE {
        let answer = match initialize(app, &mut s, params.as_deref()).await {
            Ok(result) => response_json(&id, &result),
            Err(e) => error_json(Some(&id), &e),
        };
        return send(app, &s, &slot, answer).await;
    }
    let answer = match app
        .sessions()
        .session_method(&s, &method, params.as_deref())
        .await
    {
        Ok(Some(Ok(v))) => Some(response_json(&id, &v.to_string())),
        Ok(Some(Err(e))) => Some(error_json(Some(&id), &e)),
        Err(e) => Some(error_json(Some(&id), &e.rpc())),
        Ok(None) if !Catalog::handles(&method) => {
            Some(error_json(Some(&id), &RpcError::method_not_found(&method)))
        }
        Ok(None) => None,
    };
    if let Some(answer) = answer {
        return send(app, &s, &slot, answer).await;
    }
    let gated = app
        .gate()
        .pass(
            &s.who,
            Some(&s.live.id),
            &s.live.id,
            &method,
            named.as_deref(),
        )
        .await;
    let _permit = match gated {
        Ok(p) => p,
        Err(e) => return send(app, &s, &slot, error_json(Some(&id), &e.rpc())).await,
    };
    let peer = Arc::new(LegacyPeer::shared(
        app.sessions().clone(),
        s.live.clone(),
        s.version,
        STANDALONE,
        slot,
    ));
    let call = Call::new(&s, id, method, params, named);
    let response = app.sessions().run(&s.live, call, peer.clone()).await;
    peer.finish(response).await;
}

/// `initialize` on an SSE session: fill in what the placeholder lacked.
async fn initialize(
    app: &Fronts,
    s: &mut Session,
    params: Option<&RawValue>,
) -> Result<String, RpcError> {
    let h = hello(params, app.config().max_session_bytes)?;
    let mut record = SessionRecord::clone(&s.record);
    record.protocol_version = h.version.as_str().to_owned();
    record.client_capabilities = h.capabilities;
    record.client_info = h.client_info;
    app.sessions()
        .save_session(s, &record)
        .await
        .map_err(|e| e.rpc())?;
    s.record = Arc::new(record);
    s.version = h.version;
    let info = s
        .who
        .server
        .as_ref()
        .map_or(app.catalog().info(), |v| &v.info);
    Ok(app
        .catalog()
        .initialize_result_as(h.version, info)
        .to_string())
}
