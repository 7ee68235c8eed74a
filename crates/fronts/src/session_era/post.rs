//! POST `/mcp`: one JSON-RPC message, or a batch on 2025-03-26.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;

use switchboard_http::era::{self, Era};
use switchboard_http::error::TransportError;
use switchboard_http::guard::{self, Accepts};
use switchboard_http::reply::accepted;
use switchboard_proto::{Incoming, Message, error_json, methods, params, parse_body};

use crate::Fronts;
use crate::arrival;
use crate::servers::Arrival;
use crate::session_era::request;
use crate::session_era::{batch, initialize};
use crate::stateless_era;
use switchboard_cluster::Route;
use switchboard_session::Call;

pub(crate) async fn post(
    State(app): State<Fronts>,
    arrival: Arrival,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve(&app, &arrival, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The branches other than a session's request (the stateless era,
/// `initialize`, another node's session, notifications, batches) are
/// boxed: their futures would otherwise make every request's future as
/// large as the largest of them, moved with it on the way in.
async fn serve(
    app: &Fronts,
    arrival: &Arrival,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, TransportError> {
    let who = arrival.authenticate(app.gate(), headers).await?;
    switchboard_observe::access::tenant(&who.tenant.id);
    let accepts = Accepts::from_headers(headers);
    if !accepts.json && !accepts.sse {
        return Err(TransportError::NotAcceptable(
            "application/json or text/event-stream",
        ));
    }
    guard::check_json_content_type(headers)?;
    let modern = era::decide(headers) == Era::Modern;
    // Shed at arrival, before the body is read (crate::arrival); a request
    // let in is counted in hand until this returns its answer.
    let _in_hand;
    let (bytes, incoming) = if modern {
        _in_hand = arrival::stateless_post(app, &who, headers)?;
        let bytes =
            switchboard_http::body::read_body(body, headers, app.config().max_body_bytes).await?;
        let incoming = parse_body(&bytes)?;
        (bytes, incoming)
    } else {
        let arrival = arrival::session_post(app, &who, headers);
        let bytes = arrival.body(app, headers, body).await?;
        let incoming = parse_body(&bytes)?;
        arrival.settle(app, &incoming).await?;
        _in_hand = arrival.into_arrived();
        (bytes, incoming)
    };
    // What the request names, read once: for the access record, the gate
    // and the metrics.
    let named = match &incoming {
        Incoming::Single(Message::Request { method, params, .. }) => {
            let named = params::name_of(method, params.as_deref());
            switchboard_observe::access::method(method, named.as_deref());
            named
        }
        _ => None,
    };
    if modern {
        return Box::pin(stateless_era::serve(app, &who, headers, accepts, incoming)).await;
    }
    match incoming {
        Incoming::Single(Message::Request { id, method, params })
            if method == methods::INITIALIZE =>
        {
            if guard::session_id(headers)?.is_some() {
                return Err(TransportError::AlreadyInitialized);
            }
            Box::pin(initialize::initialize(app, id, params, accepts, &who)).await
        }
        Incoming::Single(message) => {
            let s = app.sessions().open_session(headers, &who).await?;
            match message {
                Message::Request { id, method, params } => {
                    // MCP params are an object: refused before anything
                    // reads them (-32602 in a 200, as any request error of
                    // a session).
                    if let Err(e) = params::check(&method, params.as_deref()) {
                        return Ok(switchboard_http::reply::reply_now(
                            accepts,
                            error_json(Some(&id), &e),
                        ));
                    }
                    app.sessions().initialized_by_use(&s).await?;
                    let r = switchboard_cluster::Request {
                        session: &s.live.id,
                        id: &id,
                        method: &method,
                        params: params.as_deref(),
                        headers,
                        body: &bytes,
                        server: who.server.as_ref().map(|v| &*v.name),
                    };
                    if let Some(owners) = app.owners()
                        && let Route::Answered(resp) = Box::pin(owners.route(r)).await?
                    {
                        return Ok(resp);
                    }
                    let call = Call::new(&s, id, method, params, named);
                    request::serve(app, s, call, accepts).await
                }
                Message::Notification { method, params } => {
                    params::check(&method, params.as_deref())
                        .map_err(TransportError::InvalidParams)?;
                    Box::pin(app.sessions().notification(&s, &method, params.as_deref())).await?;
                    Ok(accepted())
                }
                Message::Response { id, outcome } => {
                    if let Err(outcome) = s.live.answer(&id, outcome) {
                        app.sessions().route_answer(&s.live, &id, outcome);
                    }
                    Ok(accepted())
                }
            }
        }
        Incoming::Batch(items) => {
            let s = app.sessions().open_session(headers, &who).await?;
            if !s.version.allows_batches() {
                return Err(TransportError::BatchNotSupported(s.version.to_string()));
            }
            Box::pin(batch::serve(app, s, items)).await
        }
    }
}
