//! Reading the reply to one of our requests: a JSON body, or an SSE stream
//! whose messages before the response go to the downstream. A stream that
//! breaks before the response is resumed with `Last-Event-ID`.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::value::RawValue;
use switchboard_proto::{Message, parse_message};

use super::answer::Answer;
use super::conn::Conn;
use super::exchange::{media_type, read_capped};
use super::incoming;
use super::sse::SseParser;
use crate::UpstreamError;
use crate::json::{rpc_error, truncate};

/// Resumptions of one reply's stream in a row without an event between.
const MAX_RESUMES: u32 = 3;
/// The wait before resuming when the server named none.
const DEFAULT_RETRY: Duration = Duration::from_millis(500);
/// The longest wait before resuming, whatever the server asked.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// The result of request `id` from the server's reply.
pub(crate) async fn read(
    conn: &Arc<Conn>,
    id: u64,
    response: Answer,
) -> Result<Box<RawValue>, UpstreamError> {
    let status = response.status();
    if !status.is_success() {
        return Err(conn.refusal(response).await);
    }
    let media = media_type(&response);
    match (status, media.as_str()) {
        (StatusCode::OK, "application/json") => {
            let body = read_capped(response, conn.max_body_bytes).await?;
            match parse_message(&body) {
                // An error with a null id: the server could not read the request.
                Ok(Message::Response { id: got, outcome })
                    if got.as_json() == id.to_string()
                        || (outcome.is_err() && got.as_json() == "null") =>
                {
                    outcome.map_err(|e| UpstreamError::Rpc(rpc_error(&e)))
                }
                _ => Err(UpstreamError::Http(format!(
                    "the reply is not the response to request {id}: {}",
                    truncate(&String::from_utf8_lossy(&body), 200)
                ))),
            }
        }
        (StatusCode::OK, "text/event-stream") => stream(conn, id, response).await,
        _ => Err(UpstreamError::Http(format!(
            "a request answered with HTTP {status} and content type {media:?}"
        ))),
    }
}

/// Read events until the response to `id` comes, resuming a broken stream.
async fn stream(
    conn: &Arc<Conn>,
    id: u64,
    response: Answer,
) -> Result<Box<RawValue>, UpstreamError> {
    let ours = id.to_string();
    let mut parser = SseParser::new(conn.max_body_bytes);
    let mut body = response;
    let mut events = Vec::new();
    let mut resumes = 0;
    loop {
        let broke = match body.chunk().await {
            Some(Ok(chunk)) => {
                parser
                    .feed(&chunk, &mut events)
                    .map_err(|e| UpstreamError::Http(format!("the reply stream: {e}")))?;
                for event in events.drain(..) {
                    resumes = 0;
                    if event.event != "message" {
                        continue;
                    }
                    match incoming::handle(conn, &event.data).await {
                        Some((got, outcome)) if got.as_json() == ours => {
                            return outcome.map_err(|e| UpstreamError::Rpc(rpc_error(&e)));
                        }
                        Some((got, _)) => {
                            tracing::debug!(upstream = %conn.name, %got, "a response to another request, ignored");
                        }
                        None => {}
                    }
                }
                continue;
            }
            Some(Err(e)) => e,
            None => "it ended".to_owned(),
        };
        let Some(last) = parser.last_event_id().map(str::to_owned) else {
            return Err(UpstreamError::Http(format!(
                "the reply stream broke before the response ({broke}) and cannot be resumed"
            )));
        };
        resumes += 1;
        if resumes > MAX_RESUMES {
            return Err(UpstreamError::Http(format!(
                "the reply stream broke before the response ({broke}); {MAX_RESUMES} resumptions failed"
            )));
        }
        let wait = parser
            .retry()
            .map_or(DEFAULT_RETRY, Duration::from_millis)
            .min(MAX_RETRY);
        tracing::debug!(upstream = %conn.name, id, "reply stream broke ({broke}); resuming after {last}");
        tokio::time::sleep(wait).await;
        let resumed = conn.get(Some(&last)).await?;
        if resumed.status() != StatusCode::OK || media_type(&resumed) != "text/event-stream" {
            return Err(conn.refusal(resumed).await);
        }
        parser = SseParser::resuming(conn.max_body_bytes, Some(last), parser.retry());
        body = resumed;
    }
}
