//! JSON-RPC batches (protocol version 2025-03-26 only).
//!
//! Every request of a batch runs concurrently and the answers come back as
//! one JSON array. A batch cannot stream, so its handlers' notifications are
//! dropped and server-to-client requests fail with a clear error.

use std::sync::Arc;

use axum::response::Response;
use futures_util::future::join_all;
use switchboard_http::error::TransportError;
use switchboard_http::reply::accepted;
use switchboard_http::reply::json_response;
use switchboard_proto::{Message, ParseError, RpcError, error_json, methods, response_json};
use switchboard_runtime::Catalog;

use crate::Fronts;
use switchboard_session::Call;
use switchboard_session::LegacyPeer;
use switchboard_session::Session;

pub(crate) async fn serve(
    app: &Fronts,
    s: Session,
    items: Vec<Result<Message, ParseError>>,
) -> Result<Response, TransportError> {
    let mut answers = Vec::new();
    let mut calls = Vec::new();
    for item in items {
        match item {
            Err(e) => answers.push(error_json(None, &e.to_rpc())),
            Ok(Message::Request { id, method, .. }) if method == methods::INITIALIZE => {
                let e = RpcError::invalid_request("initialize must not be part of a batch");
                answers.push(error_json(Some(&id), &e));
            }
            // MCP params are an object: a request with others is answered
            // -32602 alone, a notification with others is answered like a
            // bad element (null id) and not acted on.
            Ok(Message::Request { id, method, params }) => {
                match switchboard_proto::params::check(&method, params.as_deref()) {
                    Ok(()) => {
                        let named = switchboard_proto::params::name_of(&method, params.as_deref());
                        calls.push(Call::new(&s, id, method, params, named));
                    }
                    Err(e) => answers.push(error_json(Some(&id), &e)),
                }
            }
            Ok(Message::Notification { method, params }) => {
                match switchboard_proto::params::check(&method, params.as_deref()) {
                    Ok(()) => {
                        app.sessions()
                            .notification(&s, &method, params.as_deref())
                            .await?
                    }
                    Err(e) => answers.push(error_json(None, &e)),
                }
            }
            Ok(Message::Response { id, outcome }) => {
                if let Err(outcome) = s.live.answer(&id, outcome) {
                    app.sessions().route_answer(&s.live, &id, outcome);
                }
            }
        }
    }
    if !calls.is_empty() {
        app.sessions().initialized_by_use(&s).await?;
    }
    let results = join_all(calls.into_iter().map(|call| one(app, &s, call))).await;
    for r in results {
        answers.extend(r?);
    }
    if answers.is_empty() {
        return Ok(accepted());
    }
    Ok(json_response(
        http::StatusCode::OK,
        format!("[{}]", answers.join(",")),
    ))
}

async fn one(app: &Fronts, s: &Session, call: Call) -> Result<Option<String>, TransportError> {
    if let Some(answer) = app
        .sessions()
        .session_method(s, &call.method, call.params.as_deref())
        .await?
    {
        return Ok(Some(match answer {
            Ok(v) => response_json(&call.id, &v.to_string()),
            Err(e) => error_json(Some(&call.id), &e),
        }));
    }
    if !Catalog::handles(&call.method) {
        return Ok(Some(error_json(
            Some(&call.id),
            &RpcError::method_not_found(&call.method),
        )));
    }
    let gated = app
        .gate()
        .pass(
            &s.who,
            Some(&s.live.id),
            &s.live.id,
            &call.method,
            call.named.as_deref(),
        )
        .await;
    let _permit = match gated {
        Ok(p) => p,
        Err(e) => return Ok(Some(error_json(Some(&call.id), &e.rpc()))),
    };
    let peer = Arc::new(LegacyPeer::new(
        app.sessions().clone(),
        s.live.clone(),
        s.version,
        false,
        None,
    ));
    Ok(app.sessions().run(&s.live, call, peer).await)
}
