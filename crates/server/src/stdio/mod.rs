//! The stdio front: one client over stdin/stdout, newline-delimited
//! JSON-RPC, for desktop clients that launch a command. Same catalog and
//! semantics as the session era over HTTP; logs go to stderr only; the
//! process ends cleanly at end of input. Requests carrying a 2026-07-28
//! `_meta` are served statelessly ([`stateless`]).

#[cfg(test)]
mod properties;
mod stateless;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_proto::{
    ErrorCode, Incoming, Message, ParseError, RequestId, RpcError, error_json, methods,
    notification_json, parse_body, request_json, response_json,
};
use switchboard_runtime::{
    Catalog, ClientPeer, HandlerError, LogFilter, LogLevel, PeerError, RequestContextBuilder,
    ServerEvent, async_trait,
};
use switchboard_upstream::{BadLine, Lines};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::mcp::initialize::hello;

type Answer = Result<Box<RawValue>, Box<RawValue>>;

/// How long requests still running at end of input may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The one client's state.
#[derive(Debug)]
struct Client {
    catalog: Arc<Catalog>,
    out: mpsc::Sender<String>,
    capabilities: Mutex<Option<Value>>,
    log_filter: Mutex<LogFilter>,
    subscriptions: Mutex<HashSet<String>>,
    pending: Mutex<HashMap<RequestId, oneshot::Sender<Answer>>>,
    running: Mutex<HashMap<RequestId, CancellationToken>>,
    next_id: AtomicU64,
    closed: CancellationToken,
    request_timeout: Duration,
    /// Seals the state of this process's `input_required` results.
    sealer: crate::modern::seal::Sealer,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    async fn send(&self, line: String) {
        let _ = self.out.send(line).await;
    }
}

/// Serve one client on `input`/`output` until end of input.
pub async fn serve_stdio<R, W>(
    catalog: Arc<Catalog>,
    input: R,
    output: W,
    max_line: usize,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, rx) = mpsc::channel::<String>(1024);
    let writer = tokio::spawn(write_lines(output, rx));
    let client = Arc::new(Client {
        catalog,
        out,
        capabilities: Mutex::default(),
        log_filter: Mutex::default(),
        subscriptions: Mutex::default(),
        pending: Mutex::default(),
        running: Mutex::default(),
        next_id: AtomicU64::new(1),
        closed: CancellationToken::new(),
        request_timeout: Duration::from_secs(300),
        sealer: stateless::sealer(),
    });
    let events = tokio::spawn(forward_events(client.clone()));
    // A bad line is answered and skipped; reading goes on after it.
    let mut lines = FramedRead::new(input, Lines::new(max_line));
    while let Some(line) = lines.next().await {
        match line {
            Ok(Ok(line)) if line.trim().is_empty() => {}
            Ok(Ok(line)) => handle_line(&client, line.as_bytes()).await,
            Ok(Err(BadLine::TooLong)) => {
                let e = RpcError::invalid_request(format!("message longer than {max_line} bytes"));
                client.send(error_json(None, &e)).await;
            }
            Ok(Err(BadLine::NotUtf8)) => {
                let e = ParseError::Json("the message is not UTF-8".into()).to_rpc();
                client.send(error_json(None, &e)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "stdin failed");
                break;
            }
        }
    }
    // End of input: let running handlers finish (bounded), then stop the
    // rest, flush what is queued and return.
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while !lock(&client.running).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.closed.cancel();
    events.abort();
    drop(client);
    let _ = writer.await;
    Ok(())
}

/// Most bytes gathered into one write.
const WRITE_BATCH: usize = 64 * 1024;

/// Write queued lines, those already waiting gathered into one write.
async fn write_lines<W: AsyncWrite + Unpin>(mut output: W, mut rx: mpsc::Receiver<String>) {
    let mut buf = Vec::with_capacity(4096);
    while let Some(line) = rx.recv().await {
        buf.clear();
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        while buf.len() < WRITE_BATCH
            && let Ok(line) = rx.try_recv()
        {
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
        }
        if output.write_all(&buf).await.is_err() || output.flush().await.is_err() {
            return;
        }
    }
}

/// Resource updates and list changes for this client.
async fn forward_events(client: Arc<Client>) {
    let mut rx = client.catalog.bus().subscribe();
    while let Ok(event) = rx.recv().await {
        let params = match &event {
            ServerEvent::ResourceUpdated { uri } if lock(&client.subscriptions).contains(uri) => {
                json!({"uri": uri})
            }
            ServerEvent::ResourceUpdated { .. } => continue,
            _ => json!({}),
        };
        client
            .send(notification_json(event.method(), &params))
            .await;
    }
}

async fn handle_line(client: &Arc<Client>, line: &[u8]) {
    let message = match parse_body(line) {
        Ok(Incoming::Single(m)) => m,
        Ok(Incoming::Batch(_)) => {
            let e = RpcError::invalid_request("JSON-RPC batches are not supported on stdio");
            return client.send(error_json(None, &e)).await;
        }
        Err(e) => return client.send(error_json(None, &e.to_rpc())).await,
    };
    match message {
        Message::Response { id, outcome } => {
            if let Some(tx) = lock(&client.pending).remove(&id) {
                let _ = tx.send(outcome);
            }
        }
        Message::Notification { method, params } => {
            notification(client, &method, params.as_deref())
        }
        Message::Request { id, method, params } => {
            if let Some(value) = stateless::params_if_stateless(params.as_deref()) {
                return stateless::serve(client, id, method, params, value).await;
            }
            if let Some(answer) = local_method(client, &method, params.as_deref()) {
                let line = match answer {
                    Ok(v) => response_json(&id, &v.to_string()),
                    Err(e) => error_json(Some(&id), &e),
                };
                return client.send(line).await;
            }
            let client = client.clone();
            // Registered before the task starts, so end of input waits for it.
            let token = client.closed.child_token();
            lock(&client.running).insert(id.clone(), token.clone());
            // Most calls finish on their first poll (a quick tool): that poll
            // runs here, and only a call that has to wait gets a task.
            let mut call = Box::pin(run(client, id, method, params, token));
            let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
            if first.is_pending() {
                tokio::spawn(call);
            }
        }
    }
}

fn notification(client: &Client, method: &str, params: Option<&RawValue>) {
    #[derive(Deserialize)]
    struct Cancelled {
        #[serde(rename = "requestId")]
        request_id: Box<RawValue>,
    }
    if method == methods::CANCELLED
        && let Ok(c) = serde_json::from_str::<Cancelled>(params.map(RawValue::get).unwrap_or("{}"))
        && let Ok(id) = RequestId::from_raw(&c.request_id)
        && let Some(token) = lock(&client.running).get(&id)
    {
        token.cancel();
    }
}

/// The methods answered without the catalog; `None` for the others.
fn local_method(
    client: &Client,
    method: &str,
    params: Option<&RawValue>,
) -> Option<Result<Value, RpcError>> {
    let field = |name: &str| -> Option<String> {
        let v: Value = serde_json::from_str(params.map(RawValue::get).unwrap_or("{}")).ok()?;
        v.get(name)?.as_str().map(str::to_owned)
    };
    Some(match method {
        methods::INITIALIZE => hello(params).map(|h| {
            *lock(&client.capabilities) = serde_json::from_str(h.capabilities.get()).ok();
            client.catalog.initialize_result(h.version)
        }),
        methods::PING => Ok(json!({})),
        methods::SET_LEVEL => match field("level").as_deref().and_then(LogLevel::parse) {
            Some(level) => {
                *lock(&client.log_filter) = LogFilter::AtLeast(level);
                Ok(json!({}))
            }
            None => Err(RpcError::invalid_params(
                "logging/setLevel: a valid \"level\" is required",
            )),
        },
        methods::RESOURCES_SUBSCRIBE | methods::RESOURCES_UNSUBSCRIBE => match field("uri") {
            Some(uri) if method == methods::RESOURCES_UNSUBSCRIBE => {
                lock(&client.subscriptions).remove(&uri);
                Ok(json!({}))
            }
            Some(uri) if client.catalog.has_resource(&uri) => {
                lock(&client.subscriptions).insert(uri);
                Ok(json!({}))
            }
            Some(uri) => Err(RpcError::new(
                ErrorCode::RESOURCE_NOT_FOUND,
                format!("resource not found: {uri}"),
            )
            .with_data(json!({"uri": uri}))),
            None => Err(RpcError::invalid_params("\"uri\" is required")),
        },
        m if !Catalog::handles(m) => Err(RpcError::method_not_found(m)),
        _ => return None,
    })
}

async fn run(
    client: Arc<Client>,
    id: RequestId,
    method: String,
    params: Option<Box<RawValue>>,
    token: CancellationToken,
) {
    let progress_token = params.as_deref().and_then(progress_token);
    let builder = RequestContextBuilder::new(client.clone() as Arc<dyn ClientPeer>, id.clone())
        .progress_token(progress_token)
        .log_filter(*lock(&client.log_filter))
        .client_capabilities(lock(&client.capabilities).clone())
        .cancel(token);
    let ctx = client.catalog.context(builder);
    let outcome = client.catalog.handle(&method, params.as_deref(), ctx).await;
    lock(&client.running).remove(&id);
    let line = match outcome {
        Ok(v) => response_json(&id, &v.to_string()),
        Err(HandlerError::Cancelled) => return,
        Err(HandlerError::Rpc(e)) => error_json(Some(&id), &e),
        Err(e) => error_json(Some(&id), &RpcError::invalid_params(e.to_string())),
    };
    client.send(line).await;
}

/// `_meta.progressToken` of request params, if any; the params are parsed
/// only when they may hold one (`\u` escapes could spell the key otherwise).
fn progress_token(params: &RawValue) -> Option<Value> {
    let text = params.get();
    if !switchboard_proto::may_hold_key(text, "progressToken") {
        return None;
    }
    let v: Value = serde_json::from_str(text).ok()?;
    v.get("_meta")?.get("progressToken").cloned()
}

#[async_trait]
impl ClientPeer for Client {
    async fn notify(&self, method: &str, params: Value) {
        self.send(notification_json(method, &params)).await;
    }

    async fn request(
        &self,
        _key: &str,
        method: &str,
        params: Value,
    ) -> Result<Box<RawValue>, PeerError> {
        let id = RequestId::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        self.send(request_json(&id, method, &params)).await;
        let outcome = crate::peer::await_answer(rx, self.request_timeout, &self.closed).await;
        lock(&self.pending).remove(&id);
        outcome
    }
}
