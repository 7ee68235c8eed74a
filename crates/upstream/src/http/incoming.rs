//! Messages the server sends on a stream: notifications and requests go to
//! the [`Downstream`](crate::Downstream) (requests answered by POSTing the
//! response back), responses go back to whoever reads the stream.

use std::sync::Arc;

use serde_json::value::RawValue;
use switchboard_proto::{
    ErrorCode, Message, RequestId, RpcError, error_json, methods, parse_message, response_json,
};

use super::conn::Conn;
use crate::json::{RawObject, cancelled_request_id, progress_token, truncate};

/// Requests from one upstream to the client in flight at once.
const MAX_INBOUND: usize = 64;
/// How much of a bad message goes into a log line.
const SHOWN: usize = 200;

/// A response read from a stream: its id and its result or error object.
pub(crate) type Response = (RequestId, Result<Box<RawValue>, Box<RawValue>>);

/// Handle one event's data; a response is handed back to the reader.
pub(crate) async fn handle(conn: &Arc<Conn>, data: &str) -> Option<Response> {
    if data.trim().is_empty() {
        return None; // a priming event
    }
    let message = match parse_message(data.as_bytes()) {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(upstream = %conn.name, "invalid message: {e}: {}", truncate(data, SHOWN));
            return None;
        }
    };
    match message {
        Message::Response { id, outcome } => Some((id, outcome)),
        Message::Request { id, method, params } => {
            on_request(conn, id, method, params);
            None
        }
        Message::Notification { method, params } => {
            on_notification(conn, &method, params).await;
            None
        }
    }
}

fn on_request(conn: &Arc<Conn>, id: RequestId, method: String, params: Option<Box<RawValue>>) {
    if method == methods::PING {
        tokio::spawn(post(Arc::clone(conn), response_json(&id, "{}")));
        return;
    }
    let key = id.as_json().to_owned();
    let added = conn.add_inbound(&key, MAX_INBOUND, || {
        let task = answer(Arc::clone(conn), id.clone(), method, params);
        tokio::spawn(task).abort_handle()
    });
    if let Err(why) = added {
        tracing::warn!(upstream = %conn.name, %id, "request from the server refused: {why}");
        let error = RpcError::new(ErrorCode::SERVER_BUSY, why);
        tokio::spawn(post(Arc::clone(conn), error_json(Some(&id), &error)));
    }
}

/// Ask the downstream, and answer the server unless it cancelled.
async fn answer(conn: Arc<Conn>, id: RequestId, method: String, params: Option<Box<RawValue>>) {
    let result = conn.downstream.request(&method, params.as_deref()).await;
    if !conn.finish_inbound(id.as_json()) {
        return;
    }
    let body = match result {
        Ok(result) => response_json(&id, result.get()),
        Err(error) => error_json(Some(&id), &error),
    };
    post(conn, body).await;
}

/// POST a response to the server, logging a failure.
async fn post(conn: Arc<Conn>, body: String) {
    if let Err(e) = conn.post_message(body).await {
        tracing::warn!(upstream = %conn.name, "could not answer the server's request: {e}");
    }
}

async fn on_notification(conn: &Conn, method: &str, params: Option<Box<RawValue>>) {
    match method {
        methods::PROGRESS => {
            let Some(params) = restore_progress_token(conn, params.as_deref()) else {
                tracing::debug!(upstream = %conn.name, "progress for no call in flight, dropped");
                return;
            };
            conn.downstream.notify(method, Some(&params)).await;
        }
        methods::CANCELLED => {
            let cancelled =
                cancelled_request_id(params.as_deref()).is_some_and(|id| conn.cancel_inbound(&id));
            if !cancelled {
                tracing::debug!(upstream = %conn.name, "cancellation of nothing in flight");
            }
        }
        _ => conn.downstream.notify(method, params.as_deref()).await,
    }
}

/// Progress params with our token swapped back for the caller's.
fn restore_progress_token(conn: &Conn, params: Option<&RawValue>) -> Option<Box<RawValue>> {
    let mut params = RawObject::parse(params?)?;
    let original = conn.original_token(&progress_token(&params)?)?;
    params.set("progressToken", &original);
    Some(params.to_raw())
}
