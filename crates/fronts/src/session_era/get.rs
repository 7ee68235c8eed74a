//! GET `/mcp`: the standalone SSE stream, or the resumption of any stream
//! of the session with `Last-Event-ID` (on a cluster, a request stream
//! another node writes is followed live: see `cluster`; the standalone
//! stream is registered in the store and fed with what the nodes producing
//! events log for it: see `fanout`). At shutdown a stream here ends with
//! the id to resume from and a `retry` hint.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use switchboard_http::era::{self, Era};
use switchboard_http::error::TransportError;
use switchboard_http::guard::{Accepts, LAST_EVENT_ID};
use switchboard_http::{frames, sse};
use switchboard_session::{LiveSession, STANDALONE, Sessions, StreamSlot, replay_channel};
use switchboard_store::EventId;

use crate::Fronts;
use crate::servers::Arrival;

pub(crate) async fn get(
    State(app): State<Fronts>,
    arrival: Arrival,
    headers: HeaderMap,
) -> Response {
    serve(&app, &arrival, &headers)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// Follow a request stream another node writes (on a cluster).
async fn follow(
    app: &Fronts,
    live: &Arc<LiveSession>,
    after: EventId,
) -> Result<frames::Receiver, TransportError> {
    let slot = Arc::new(StreamSlot::follower());
    if let Some(old) = live.stream(after.stream) {
        old.finish().await;
    }
    live.add_stream(after.stream, slot.clone());
    let buffer = app.config().stream_buffer;
    let (rx, over) = slot
        .follow(app.sessions().event_log(), &live.id, after, buffer)
        .await?;
    if over {
        live.remove_stream(after.stream);
    } else {
        let deadline = app.config().request_timeout() + FOLLOW_GRACE;
        let sessions = app.sessions().clone();
        tokio::spawn(give_up(
            sessions,
            live.clone(),
            after.stream,
            slot,
            deadline,
        ));
    }
    Ok(rx)
}

/// How long past `request_timeout_secs` a follower waits for the stream's
/// end before it gives up on the writer.
const FOLLOW_GRACE: Duration = Duration::from_secs(5);

/// A writer whose node died never ends its stream: once the longest a
/// request may run has passed (and a grace), the follower ends it — with a
/// JSON-RPC error for the request when the writer noted which request the
/// stream answers (logged, so a later resumption gets it too), so the
/// client has its answer rather than keep-alives for good. A stream that
/// ended meanwhile is left as it is.
async fn give_up(
    sessions: Sessions,
    live: Arc<LiveSession>,
    stream: u64,
    slot: Arc<StreamSlot>,
    deadline: Duration,
) {
    tokio::select! {
        () = tokio::time::sleep(deadline) => {}
        () = live.closed.cancelled() => return,
    }
    let ours = live.stream(stream).is_some_and(|s| Arc::ptr_eq(&s, &slot));
    if ours && !slot.is_finished().await {
        tracing::warn!(
            session = %switchboard_observe::ids::short(&live.id),
            stream,
            "no end of a followed request stream from its writer within the request timeout: ended here"
        );
        let log = sessions.event_log();
        if let Ok(Some(id)) = log.request_of(&live.id, stream).await {
            let error = format!(
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32603,"message":"{WRITER_GONE}"}}}}"#
            );
            if let Err(e) = slot.emit(log, &live.id, stream, error.into()).await {
                tracing::warn!(error = %e, "the request's error could not be logged");
            }
        }
        slot.finish().await;
        live.remove_stream(stream);
    }
}

/// The error a follower answers a request with when its writer is gone.
const WRITER_GONE: &str =
    "the node running this request stopped before it answered: the call may or may not have run";

async fn serve(
    app: &Fronts,
    arrival: &Arrival,
    headers: &HeaderMap,
) -> Result<Response, TransportError> {
    let who = arrival.authenticate(app.gate(), headers).await?;
    if era::decide(headers) == Era::Modern {
        return Err(TransportError::MethodNotAllowed); // no GET stream in the stateless era
    }
    if !Accepts::from_headers(headers).sse {
        return Err(TransportError::NotAcceptable("text/event-stream"));
    }
    let s = app.sessions().open_session(headers, &who).await?;
    let open = s
        .live
        .open_streams
        .load(std::sync::atomic::Ordering::Relaxed);
    if open >= app.config().max_streams_per_session {
        app.metrics().requests.rejected("stream_cap");
        return Err(TransportError::StreamCap(
            app.config().max_streams_per_session,
        ));
    }
    let (log, buffer) = (app.sessions().event_log(), app.config().stream_buffer);
    let mut end = app.sessions().stream_end(&s.live);
    end.tenant_streams = Some(app.gate().stream_quota(&who, Some(&s.live.id))?);
    let retry_ms = app.config().sse_retry_ms;
    let fed = app.cluster().events().is_some();
    if let Some(last) = headers.get(LAST_EVENT_ID) {
        let text = last.to_str().unwrap_or("");
        let after =
            EventId::parse(text).ok_or_else(|| TransportError::BadLastEventId(text.to_owned()))?;
        end.drain_hint = Some((after, retry_ms));
        if fed && after.stream == STANDALONE {
            log.register_standalone(&s.live.id).await?;
            let slot = s.live.standalone();
            let rx = slot.resume_fed(log, &s.live.id, after, buffer).await?;
            return Ok(sse::response(None, rx, app.config().keep_alive(), end));
        }
        let rx = match s.live.stream(after.stream) {
            Some(slot) if !slot.is_follower() => {
                slot.resume(log, &s.live.id, after, buffer).await?
            }
            _ if after.stream != STANDALONE && app.sessions().bus().is_some() => {
                follow(app, &s.live, after).await?
            }
            Some(slot) => slot.resume(log, &s.live.id, after, buffer).await?,
            None if after.stream == STANDALONE => {
                s.live
                    .standalone()
                    .resume(log, &s.live.id, after, buffer)
                    .await?
            }
            None => replay_channel(log, &s.live.id, after, buffer).await?.1,
        };
        return Ok(sse::response(None, rx, app.config().keep_alive(), end));
    }
    let slot = s.live.standalone();
    let attached = if fed {
        log.register_standalone(&s.live.id).await?;
        slot.attach_fed(log, &s.live.id, buffer).await?
    } else {
        slot.attach_exclusive(buffer).await
    };
    let (rx, last_seq) = attached.ok_or(TransportError::StreamConflict)?;
    let start = EventId {
        stream: STANDALONE,
        seq: last_seq,
    };
    end.drain_hint = Some((start, retry_ms));
    let first = s
        .version
        .wants_priming_event()
        .then(|| sse::priming(start, retry_ms));
    Ok(sse::response(first, rx, app.config().keep_alive(), end))
}
