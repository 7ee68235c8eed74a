//! The session's own event stream (GET): what the server sends outside any
//! request of ours goes to the downstream. A stream that ends is reopened
//! with `Last-Event-ID`, a bounded number of times in a row.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;

use super::answer::Answer;
use super::conn::Conn;
use super::exchange::media_type;
use super::incoming;
use super::sse::SseParser;

/// Attempts in a row (without an event between) to reopen the stream.
const MAX_RECONNECTS: u32 = 5;
/// The wait before reopening when the server named none.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// The longest wait before reopening.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How an attempt to open the stream went.
enum Opened {
    Stream(Answer),
    /// 405: the server offers no stream; nothing to do.
    NotOffered,
    /// The upstream is gone (the session expired, the server is unreachable).
    Gone,
    /// Any other failure, worth another try.
    Failed(String),
}

/// Keep the stream open until the upstream stops; `opened` is told once
/// the first attempt to open it has an answer (the stream, or why not), so
/// that the session's first request is not sent before the server has a
/// stream for what it sends outside requests (a server may drop those
/// while none is open).
pub(crate) async fn listen(conn: Arc<Conn>, opened: tokio::sync::oneshot::Sender<()>) {
    tokio::select! {
        () = conn.stop.cancelled() => {}
        () = run(&conn, opened) => {}
    }
}

async fn run(conn: &Arc<Conn>, opened: tokio::sync::oneshot::Sender<()>) {
    let mut last: Option<String> = None;
    let mut retry: Option<u64> = None;
    let mut failures = 0u32;
    let mut opened = Some(opened);
    loop {
        let attempt = open(conn, last.as_deref()).await;
        if let Some(tell) = opened.take() {
            let _ = tell.send(());
        }
        match attempt {
            Opened::Stream(response) => {
                let mut parser = SseParser::resuming(conn.max_body_bytes, last.clone(), retry);
                let (events, why) = read(conn, response, &mut parser).await;
                last = parser.last_event_id().map(str::to_owned);
                retry = parser.retry();
                if events > 0 {
                    failures = 0;
                }
                tracing::debug!(upstream = %conn.name, events, "event stream ended: {why}");
            }
            Opened::NotOffered => {
                tracing::debug!(upstream = %conn.name, "the server offers no event stream");
                return;
            }
            Opened::Gone => return,
            Opened::Failed(why) => {
                tracing::debug!(upstream = %conn.name, "opening the event stream failed: {why}");
                // A resumption the server refuses is not tried again.
                last = None;
            }
        }
        failures += 1;
        if failures > MAX_RECONNECTS {
            tracing::warn!(
                upstream = %conn.name,
                "gave up on the server's event stream after {MAX_RECONNECTS} attempts"
            );
            return;
        }
        tokio::time::sleep(backoff(retry, failures)).await;
    }
}

/// The wait before attempt `failures`: the server's retry, doubled each time.
fn backoff(retry: Option<u64>, failures: u32) -> Duration {
    let base = retry.map_or(DEFAULT_RETRY, Duration::from_millis);
    let factor = 2u32.saturating_pow(failures.saturating_sub(1));
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

async fn open(conn: &Conn, last: Option<&str>) -> Opened {
    let response = match conn.get(last).await {
        Ok(response) => response,
        Err(_) if conn.closed().is_some() => return Opened::Gone,
        Err(e) => return Opened::Failed(e.to_string()),
    };
    let status = response.status();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        return Opened::NotOffered;
    }
    if status == StatusCode::OK && media_type(&response) == "text/event-stream" {
        return Opened::Stream(response);
    }
    Opened::Failed(conn.refusal(response).await.to_string())
}

/// Hand the stream's messages on until it ends; how many events came and
/// why it ended.
async fn read(conn: &Arc<Conn>, mut body: Answer, parser: &mut SseParser) -> (usize, String) {
    let mut events = Vec::new();
    let mut count = 0;
    loop {
        let chunk = match body.chunk().await {
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => return (count, e),
            None => return (count, "the server closed it".to_owned()),
        };
        if let Err(e) = parser.feed(&chunk, &mut events) {
            tracing::warn!(upstream = %conn.name, "event stream: {e}");
            return (count, e.to_string());
        }
        for event in events.drain(..) {
            count += 1;
            if event.event != "message" {
                continue;
            }
            if let Some((id, _)) = incoming::handle(conn, &event.data).await {
                tracing::debug!(upstream = %conn.name, %id, "a response on the event stream, ignored");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_servers_retry_and_is_capped() {
        assert_eq!(backoff(None, 1), DEFAULT_RETRY);
        assert_eq!(backoff(Some(100), 1), Duration::from_millis(100));
        assert_eq!(backoff(Some(100), 3), Duration::from_millis(400));
        assert_eq!(backoff(Some(100), 40), MAX_BACKOFF);
        assert_eq!(backoff(Some(u64::MAX), 2), MAX_BACKOFF);
    }
}
