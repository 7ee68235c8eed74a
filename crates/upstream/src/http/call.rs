//! One request of ours: POSTed, its reply read, cancelled if given up on.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::json;
use serde_json::value::RawValue;
use switchboard_proto::methods;

use super::conn::Conn;
use super::reply;
use crate::UpstreamError;
use crate::json::{notification_line, replace_progress_token, request_line, to_raw};

/// One request: POST it, read the reply, cancel it if given up on.
pub(crate) async fn call(
    conn: &Arc<Conn>,
    method: &str,
    params: Option<&RawValue>,
    timeout: Duration,
    cancellable: bool,
) -> Result<Box<RawValue>, UpstreamError> {
    call_with(conn, method, params, timeout, cancellable, None).await
}

/// Like [`call`]; with `stateless` headers, a 2026-07-28 request (see
/// [`Conn::post_with`]), cancelled by dropping its reply.
pub(crate) async fn call_with(
    conn: &Arc<Conn>,
    method: &str,
    params: Option<&RawValue>,
    timeout: Duration,
    cancellable: bool,
    stateless: Option<&HeaderMap>,
) -> Result<Box<RawValue>, UpstreamError> {
    if let Some(cause) = conn.closed() {
        return Err(cause);
    }
    let id = conn.next_id();
    let (rewritten, token) =
        match params.and_then(|p| replace_progress_token(p, || format!("switchboard-{id}"))) {
            Some((params, original, ours)) => {
                conn.add_token(ours.clone(), original);
                (Some(params), Some(ours))
            }
            None => (None, None),
        };
    let mut pending = Pending {
        conn,
        id,
        token,
        cancel: cancellable,
    };
    let params = rewritten.as_deref().or(params);
    // Boxed: the exchange's future (the HTTP client's) is large, and it is
    // moved into the timeout and the select.
    let exchange = Box::pin(async {
        let response = conn
            .post_with(request_line(id, method, params), stateless)
            .await?;
        reply::read(conn, id, response).await
    });
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(timeout, exchange) => {
            outcome.unwrap_or(Err(UpstreamError::Timeout))
        }
        () = conn.stop.cancelled() => Err(conn.closed().unwrap_or(UpstreamError::Closed)),
    };
    pending.cancel &= matches!(outcome, Err(UpstreamError::Timeout));
    outcome
}

/// A call in flight: forgets its progress token when it ends, and tells the
/// server when it was given up on.
struct Pending<'a> {
    conn: &'a Arc<Conn>,
    id: u64,
    token: Option<String>,
    cancel: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(token) = &self.token {
            self.conn.remove_token(token);
        }
        if !self.cancel || self.conn.closed().is_some() {
            return;
        }
        let params = to_raw(&json!({
            "requestId": self.id,
            "reason": "the caller gave up on the request",
        }));
        let body = notification_line(methods::CANCELLED, Some(&params));
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let conn = Arc::clone(self.conn);
            runtime.spawn(async move {
                if let Err(e) = conn.post_message(body).await {
                    tracing::debug!(upstream = %conn.name, "cancelling failed: {e}");
                }
            });
        }
    }
}
