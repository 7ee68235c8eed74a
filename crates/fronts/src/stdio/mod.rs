//! The stdio front: one client over stdin/stdout, newline-delimited
//! JSON-RPC, for desktop clients that launch a command. Same catalog and
//! semantics as the session era over HTTP — upstreams included: the client
//! is one session to them (`per_session` processes started with its
//! capabilities, its requests relayed to it, their resources subscribed
//! for it); logs go to stderr only; the process ends cleanly at end of
//! input, its session's upstream processes with it. Requests carrying a
//! 2026-07-28 `_meta` are served statelessly ([`stateless`]).

#[cfg(test)]
mod properties;
mod stateless;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_proto::{
    ErrorCode, Incoming, Message, ParseError, RequestId, RpcError, error_json, methods,
    notification_json, params, parse_body, request_json, response_json,
};
use switchboard_runtime::{
    Caller, Catalog, ClientPeer, HandlerError, LogFilter, LogLevel, PeerError,
    RequestContextBuilder, ServerEvent, async_trait,
};
use switchboard_upstream::{BadLine, Lines};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use switchboard_session::hello;
use switchboard_session::methods::MAX_SUBSCRIPTIONS;

type Answer = Result<Box<RawValue>, Box<RawValue>>;

/// How long requests still running at end of input may take to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The session id the one client has towards upstreams (its `per_session`
/// processes are this session's).
pub const STDIO_SESSION: &str = "stdio";

/// How the stdio front serves its client.
#[derive(Debug, Clone)]
pub struct StdioOptions {
    /// Longest input line in bytes; a longer one is answered with an error.
    pub max_line: usize,
    /// How long a request to the client (sampling, elicitation, roots —
    /// an upstream's, relayed) waits for its answer.
    pub client_request_timeout: Duration,
    /// Most bytes of `capabilities` and `clientInfo` the client's
    /// `initialize` may bring, and of its subscriptions' URIs together
    /// (`max_session_bytes`).
    pub max_session_bytes: usize,
}

impl StdioOptions {
    /// Lines up to `max_line` bytes; requests to the client wait 300 s;
    /// the default `max_session_bytes`.
    pub fn new(max_line: usize) -> Self {
        Self {
            max_line,
            client_request_timeout: Duration::from_secs(300),
            max_session_bytes: switchboard_config::Config::default().max_session_bytes,
        }
    }
}

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
    /// The client as upstreams see it: one session.
    caller: Caller,
    /// Most bytes of `capabilities` and `clientInfo` `initialize` may bring.
    max_session_bytes: usize,
    /// Seals the state of this process's `input_required` results.
    sealer: switchboard_stateless::Sealer,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    async fn send(&self, line: String) {
        let _ = self.out.send(line).await;
    }
}

/// Serve one client on `input`/`output` until end of input, with lines of
/// at most `max_line` bytes and the default `max_session_bytes`.
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
    serve_stdio_with(catalog, input, output, StdioOptions::new(max_line)).await
}

/// [`serve_stdio`] with every option. At end of input, once the requests
/// still running have finished (or 10 s passed), the
/// client's session ends at every provider: its `per_session` upstream
/// processes end.
pub async fn serve_stdio_with<R, W>(
    catalog: Arc<Catalog>,
    input: R,
    output: W,
    options: StdioOptions,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let max_line = options.max_line;
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
        request_timeout: options.client_request_timeout,
        caller: Caller {
            session: Some(Arc::from(STDIO_SESSION)),
            ..Caller::anonymous()
        },
        max_session_bytes: options.max_session_bytes,
        sealer: switchboard_stateless::Sealer::random(),
    });
    let events = tokio::spawn(forward_events(client.clone()));
    // A bad line is answered and reading goes on after it (the codec of
    // stdio upstreams: `LinesCodec` alone ends the stream at one).
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
                let e = ParseError::Json("the line is not UTF-8".into());
                client.send(error_json(None, &e.to_rpc())).await;
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
    for p in client.catalog.providers().iter() {
        p.session_ended(STDIO_SESSION).await;
    }
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

/// Resource updates and list changes for this client. While it is slow to
/// read, what is published waits in the subscription, merged (see
/// `switchboard_runtime::events`): nothing is skipped.
async fn forward_events(client: Arc<Client>) {
    let mut rx = client.catalog.bus().subscribe();
    while let Some(batch) = rx.recv().await {
        let followed = || lock(&client.subscriptions).iter().cloned().collect();
        for event in batch.resolve(followed) {
            if let ServerEvent::ResourceUpdated { uri } = &event
                && !lock(&client.subscriptions).contains(uri)
            {
                continue;
            }
            client
                .send(notification_json(event.method(), &event.params()))
                .await;
        }
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
        // MCP params are an object: refused before anything reads them (a
        // notification's refusal has no id to name).
        Message::Notification { method, params } => {
            match params::check(&method, params.as_deref()) {
                Ok(()) => notification(client, &method, params.as_deref()),
                Err(e) => client.send(error_json(None, &e)).await,
            }
        }
        Message::Request { id, method, params } => {
            if let Err(e) = params::check(&method, params.as_deref()) {
                return client.send(error_json(Some(&id), &e)).await;
            }
            if let Some(value) = stateless::params_if_stateless(params.as_deref()) {
                return stateless::serve(client, id, method, params, value).await;
            }
            let answer = match method.as_str() {
                methods::RESOURCES_SUBSCRIBE | methods::RESOURCES_UNSUBSCRIBE => {
                    let on = method == methods::RESOURCES_SUBSCRIBE;
                    Some(subscription(client, on, params.as_deref()).await)
                }
                _ => local_method(client, &method, params.as_deref()),
            };
            if let Some(answer) = answer {
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
    if method == methods::CANCELLED
        && let Ok(c) = params::Cancelled::read(params)
        && let Ok(id) = RequestId::from_raw(c.request_id)
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
    Some(match method {
        methods::INITIALIZE => hello(params, client.max_session_bytes).map(|h| {
            *lock(&client.capabilities) = serde_json::from_str(h.capabilities.get()).ok();
            client.catalog.initialize_result(h.version)
        }),
        methods::PING => Ok(json!({})),
        methods::SET_LEVEL => params::SetLevel::read(params).and_then(|p| {
            let level = LogLevel::parse(&p.level).ok_or_else(|| {
                RpcError::invalid_params(format!("logging/setLevel: unknown level {:?}", p.level))
            })?;
            *lock(&client.log_filter) = LogFilter::AtLeast(level);
            Ok(json!({}))
        }),
        m if !Catalog::handles(m) => Err(RpcError::method_not_found(m)),
        _ => return None,
    })
}

/// `resources/subscribe` (`on`) or `resources/unsubscribe`: a resource of
/// the catalog's own, or one an upstream lists — then the upstream is
/// subscribed too, for this client's session, and its updates reach the
/// client.
async fn subscription(
    client: &Client,
    on: bool,
    params: Option<&RawValue>,
) -> Result<Value, RpcError> {
    let method = if on {
        methods::RESOURCES_SUBSCRIBE
    } else {
        methods::RESOURCES_UNSUBSCRIBE
    };
    let uri = params::ResourceUri::read(method, params)?.uri.into_owned();
    let catalog = &client.catalog;
    let upstream = catalog.resource_provider(&uri);
    if on && !catalog.has_resource(&uri) && upstream.is_none() {
        return Err(RpcError::new(
            ErrorCode::RESOURCE_NOT_FOUND,
            format!("resource not found: {uri}"),
        )
        .with_data(json!({"uri": uri})));
    }
    if on {
        room_for(client, &uri)?;
    }
    if let Some(p) = upstream {
        p.subscribe(&uri, on, &client.caller)
            .await
            .map_err(|e| RpcError::internal(format!("upstream {}: {e}", p.name())))?;
    }
    let mut subscriptions = lock(&client.subscriptions);
    if on {
        subscriptions.insert(uri);
    } else {
        subscriptions.remove(&uri);
    }
    Ok(json!({}))
}

/// Whether one more subscription, to `uri`, fits: at most
/// [`MAX_SUBSCRIPTIONS`], their URIs within `max_session_bytes` together,
/// as a session's are. One already held always fits.
fn room_for(client: &Client, uri: &str) -> Result<(), RpcError> {
    let subscriptions = lock(&client.subscriptions);
    if subscriptions.contains(uri) {
        return Ok(());
    }
    if subscriptions.len() >= MAX_SUBSCRIPTIONS {
        return Err(RpcError::invalid_params(format!(
            "at most {MAX_SUBSCRIPTIONS} subscriptions per session"
        )));
    }
    let bytes = subscriptions.iter().map(String::len).sum::<usize>() + uri.len();
    if bytes > client.max_session_bytes {
        let too_large = switchboard_http::error::TransportError::TooLarge {
            what: "the subscriptions",
            bytes,
            max: client.max_session_bytes,
        };
        return Err(too_large.rpc());
    }
    Ok(())
}

async fn run(
    client: Arc<Client>,
    id: RequestId,
    method: String,
    params: Option<Box<RawValue>>,
    token: CancellationToken,
) {
    let progress_token = params::progress_token(params.as_deref());
    let builder = RequestContextBuilder::new(client.clone() as Arc<dyn ClientPeer>, id.clone())
        .progress_token(progress_token)
        .log_filter(*lock(&client.log_filter))
        .client_capabilities(lock(&client.capabilities).clone())
        .caller(client.caller.clone())
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
        let outcome =
            switchboard_session::await_answer(rx, self.request_timeout, &self.closed).await;
        lock(&self.pending).remove(&id);
        outcome
    }
}
