//! The context a handler runs in, and the peer it talks to.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_proto::{RequestId, RpcError, methods};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::caller::Caller;
use crate::event::ServerEvent;
use crate::events::EventBus;

/// Log severities of `notifications/message`, lowest first (RFC 5424 order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `notice`
    Notice,
    /// `warning`
    Warning,
    /// `error`
    Error,
    /// `critical`
    Critical,
    /// `alert`
    Alert,
    /// `emergency`
    Emergency,
}

impl LogLevel {
    /// A level from its wire name (`"warning"`); `None` for another word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "debug" => Self::Debug,
            "info" => Self::Info,
            "notice" => Self::Notice,
            "warning" => Self::Warning,
            "error" => Self::Error,
            "critical" => Self::Critical,
            "alert" => Self::Alert,
            "emergency" => Self::Emergency,
            _ => return None,
        })
    }

    /// The level's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Notice => "notice",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
            Self::Alert => "alert",
            Self::Emergency => "emergency",
        }
    }
}

/// Which log notifications a request lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFilter {
    /// Every level (a session that never set a level).
    #[default]
    All,
    /// This level and above (`logging/setLevel`, or the request's `logLevel`).
    AtLeast(LogLevel),
    /// None (a stateless request that asked for no logs).
    Off,
}

impl LogFilter {
    fn allows(self, level: LogLevel) -> bool {
        match self {
            Self::All => true,
            Self::AtLeast(min) => level >= min,
            Self::Off => false,
        }
    }
}

/// Why a message to the client could not be delivered or answered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PeerError {
    /// The client did not declare the capability this request needs.
    #[error("the client does not support {0}")]
    MissingCapability(&'static str),
    /// This transport cannot carry server-to-client requests for this request
    /// (e.g. the client does not accept an event stream).
    #[error("this request cannot carry messages to the client: {0}")]
    Unsupported(&'static str),
    /// The client answered with a JSON-RPC error.
    #[error("the client answered with an error: {0}")]
    Rejected(RpcError),
    /// The session or stream ended before the answer came.
    #[error("the session ended before the client answered")]
    Closed,
    /// The client did not answer in time.
    #[error("the client did not answer in time")]
    Timeout,
    /// The request was cancelled.
    #[error("the request was cancelled")]
    Cancelled,
    /// The client's answer does not have the shape its request calls for.
    #[error("invalid input response: {0}")]
    InvalidAnswer(String),
    /// The answer must come with a retry of the whole request (2026-07-28
    /// `input_required` results): the handler should stop and return.
    #[error("the client must answer input request {0:?} and retry")]
    InputRequired(String),
    /// The call goes on as a task (2026-07-28 tasks extension): the
    /// handler should stop; it runs again in the background.
    #[error("the call continues as a task")]
    StartTask,
}

/// The transport's side of a request: how messages reach the client.
#[async_trait]
pub trait ClientPeer: Send + Sync + 'static {
    /// Send a notification related to the current request.
    async fn notify(&self, method: &str, params: Value);
    /// Send a request to the client and wait for its result. `key` names the
    /// request among those of the same call (the `inputRequests` key of a
    /// stateless retry); session transports may ignore it. `params` `null`
    /// means the request has none: it goes out without a `params` member.
    async fn request(
        &self,
        key: &str,
        method: &str,
        params: Value,
    ) -> Result<Box<RawValue>, PeerError>;
    /// Close the response stream early (the client resumes it later), if the
    /// transport supports that; otherwise do nothing.
    async fn close_stream(&self) {}
    /// Turn the call into a task: `Err(StartTask)` when the client accepts
    /// tasks and the call is not one yet (the handler stops and runs again
    /// as a task); `Ok` when the call goes on where it is.
    async fn start_task(&self) -> Result<(), PeerError> {
        Ok(())
    }
}

/// Application state shared by every handler, keyed by type.
#[derive(Clone, Default)]
pub(crate) struct Extensions(Arc<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

impl Extensions {
    pub(crate) fn new(map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>) -> Self {
        Self(Arc::new(map))
    }

    fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.0.get(&TypeId::of::<T>())?.clone().downcast().ok()
    }
}

struct Inner {
    peer: Arc<dyn ClientPeer>,
    request_id: RequestId,
    progress_token: Option<Value>,
    log_filter: LogFilter,
    client_capabilities: Option<Arc<Value>>,
    cancel: CancellationToken,
    extensions: Extensions,
    next_key: std::sync::atomic::AtomicU32,
    stateless: bool,
    bus: Arc<dyn EventBus>,
    caller: Caller,
}

/// What a handler sees of the request it serves. Cheap to clone.
#[derive(Clone)]
pub struct RequestContext {
    inner: Arc<Inner>,
}

impl fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("request_id", &self.inner.request_id)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RequestContext`]; used by transports.
pub struct RequestContextBuilder {
    peer: Arc<dyn ClientPeer>,
    request_id: RequestId,
    progress_token: Option<Value>,
    log_filter: LogFilter,
    client_capabilities: Option<Arc<Value>>,
    /// Made at [`RequestContextBuilder::build`] if none was given (the
    /// defaults cost allocations a front's own would replace).
    cancel: Option<CancellationToken>,
    stateless: bool,
    caller: Option<Caller>,
}

impl fmt::Debug for RequestContextBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContextBuilder")
            .finish_non_exhaustive()
    }
}

impl RequestContextBuilder {
    /// A context for request `request_id`, whose messages to the client go
    /// through `peer`; finished by [`crate::Catalog::context`].
    pub fn new(peer: Arc<dyn ClientPeer>, request_id: RequestId) -> Self {
        Self {
            peer,
            request_id,
            progress_token: None,
            log_filter: LogFilter::All,
            client_capabilities: None,
            cancel: None,
            stateless: false,
            caller: None,
        }
    }

    /// Mark a stateless (2026-07-28) request.
    pub fn stateless(mut self, stateless: bool) -> Self {
        self.stateless = stateless;
        self
    }

    /// The request's `_meta.progressToken`, if any.
    pub fn progress_token(mut self, token: Option<Value>) -> Self {
        self.progress_token = token;
        self
    }

    /// Which log notifications go out (default: all).
    pub fn log_filter(mut self, filter: LogFilter) -> Self {
        self.log_filter = filter;
        self
    }

    /// The client's declared capabilities (owned, or shared: a session's
    /// are read once and shared by its requests).
    pub fn client_capabilities(mut self, caps: Option<impl Into<Arc<Value>>>) -> Self {
        self.client_capabilities = caps.map(Into::into);
        self
    }

    /// Who sends the request, and what they may use (default: anonymous,
    /// allowed everything).
    pub fn caller(mut self, caller: Caller) -> Self {
        self.caller = Some(caller);
        self
    }

    /// The token that cancels this request.
    pub fn cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    pub(crate) fn build(self, extensions: Extensions, bus: Arc<dyn EventBus>) -> RequestContext {
        RequestContext {
            inner: Arc::new(Inner {
                peer: self.peer,
                request_id: self.request_id,
                progress_token: self.progress_token,
                log_filter: self.log_filter,
                client_capabilities: self.client_capabilities,
                cancel: self.cancel.unwrap_or_default(),
                extensions,
                bus,
                next_key: Default::default(),
                stateless: self.stateless,
                caller: self.caller.unwrap_or_else(Caller::anonymous),
            }),
        }
    }
}

impl RequestContext {
    /// The id of the request being served.
    pub fn request_id(&self) -> &RequestId {
        &self.inner.request_id
    }

    /// Who sends the request: tenant, subject, session and their policy.
    pub fn caller(&self) -> &Caller {
        &self.inner.caller
    }

    /// Shared application state registered with the catalog
    /// (e.g. a database pool), by type.
    pub fn state<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.inner.extensions.get::<T>()
    }

    /// Tell every interested session that something changed on the server
    /// (a resource was updated, a list changed).
    pub fn publish(&self, event: ServerEvent) {
        self.inner.bus.publish(event);
    }

    /// Whether this is a stateless (2026-07-28) request.
    pub fn is_stateless(&self) -> bool {
        self.inner.stateless
    }

    /// Whether the request has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Resolves when the request is cancelled.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.inner.cancel.cancelled()
    }

    /// Whether the request carries a progress token.
    pub fn wants_progress(&self) -> bool {
        self.inner.progress_token.is_some()
    }

    /// Report progress; a no-op when the request has no progress token.
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        let Some(token) = &self.inner.progress_token else {
            return;
        };
        let mut params = json!({"progressToken": token, "progress": progress});
        if let Some(total) = total {
            params["total"] = json!(total);
        }
        if let Some(message) = message {
            params["message"] = json!(message);
        }
        self.inner.peer.notify(methods::PROGRESS, params).await;
    }

    /// Send a log notification if the client's level lets it through.
    pub async fn log(&self, level: LogLevel, logger: Option<&str>, data: Value) {
        if !self.inner.log_filter.allows(level) {
            return;
        }
        let mut params = json!({"level": level.as_str(), "data": data});
        if let Some(logger) = logger {
            params["logger"] = json!(logger);
        }
        self.inner.peer.notify(methods::MESSAGE, params).await;
    }

    /// Whether the client declared a capability (e.g. `"sampling"`).
    pub fn client_supports(&self, capability: &str) -> bool {
        self.inner
            .client_capabilities
            .as_ref()
            .and_then(|c| c.get(capability))
            .is_some_and(|v| !v.is_null())
    }

    /// Ask the client's model for a completion (`sampling/createMessage`).
    pub async fn create_message(&self, params: Value) -> Result<Value, PeerError> {
        let key = self.auto_key("sampling");
        self.create_message_as(&key, params).await
    }

    /// Ask the user for input (`elicitation/create`).
    pub async fn elicit(&self, params: Value) -> Result<Value, PeerError> {
        let key = self.auto_key("elicitation");
        self.elicit_as(&key, params).await
    }

    /// Ask the client for its roots (`roots/list`).
    pub async fn list_roots(&self) -> Result<Value, PeerError> {
        let key = self.auto_key("roots");
        self.list_roots_as(&key).await
    }

    /// [`create_message`](Self::create_message) under a chosen input key.
    pub async fn create_message_as(&self, key: &str, params: Value) -> Result<Value, PeerError> {
        self.client_request(key, "sampling", methods::SAMPLING_CREATE_MESSAGE, params)
            .await
    }

    /// [`elicit`](Self::elicit) under a chosen input key.
    pub async fn elicit_as(&self, key: &str, params: Value) -> Result<Value, PeerError> {
        self.client_request(key, "elicitation", methods::ELICITATION_CREATE, params)
            .await
    }

    /// [`list_roots`](Self::list_roots) under a chosen input key.
    pub async fn list_roots_as(&self, key: &str) -> Result<Value, PeerError> {
        self.client_request(key, "roots", methods::ROOTS_LIST, json!({}))
            .await
    }

    /// Continue this tool call as a task, if the client accepts tasks: the
    /// call answers with a task now and the handler runs again in the
    /// background, its earlier input answers replayed (so code before this
    /// point runs twice). Elsewhere the call just goes on.
    pub async fn start_task(&self) -> Result<(), PeerError> {
        self.inner.peer.start_task().await
    }

    /// The client's declared capabilities, as it sent them.
    pub fn client_capabilities(&self) -> Option<&Value> {
        self.inner.client_capabilities.as_deref()
    }

    /// The request's `_meta.progressToken`, if it has one.
    pub fn progress_token(&self) -> Option<&Value> {
        self.inner.progress_token.as_ref()
    }

    /// Pass a notification through to the client as it is (a gateway
    /// relaying an upstream's progress, log or change notices). Log
    /// notifications still meet the client's level.
    pub async fn forward_notification(&self, method: &str, params: Value) {
        if method == methods::MESSAGE {
            let level = params
                .get("level")
                .and_then(Value::as_str)
                .and_then(LogLevel::parse);
            if level.is_some_and(|l| !self.inner.log_filter.allows(l)) {
                return;
            }
        }
        self.inner.peer.notify(method, params).await;
    }

    /// Pass a request through to the client (an upstream's sampling,
    /// elicitation or roots request), under the input key `key`; the
    /// client must have declared the capability the method needs.
    pub async fn forward_request(
        &self,
        key: &str,
        method: &str,
        params: Value,
    ) -> Result<Box<RawValue>, PeerError> {
        let capability = match method {
            methods::SAMPLING_CREATE_MESSAGE => Some("sampling"),
            methods::ELICITATION_CREATE => Some("elicitation"),
            methods::ROOTS_LIST => Some("roots"),
            _ => None,
        };
        if let Some(c) = capability
            && !self.client_supports(c)
        {
            return Err(PeerError::MissingCapability(c));
        }
        let request = self.inner.peer.request(key, method, params);
        tokio::select! {
            r = request => r,
            _ = self.inner.cancel.cancelled() => Err(PeerError::Cancelled),
        }
    }

    /// Keys for requests the tool did not name: deterministic in call order,
    /// so a re-run of the handler after a retry asks the same keys.
    fn auto_key(&self, kind: &str) -> String {
        let n = self
            .inner
            .next_key
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{kind}-{n}")
    }

    /// Close the response stream now; the client resumes it and receives the
    /// rest of the messages (SSE polling, 2025-11-25).
    pub async fn close_stream(&self) {
        self.inner.peer.close_stream().await;
    }

    async fn client_request(
        &self,
        key: &str,
        capability: &'static str,
        method: &str,
        params: Value,
    ) -> Result<Value, PeerError> {
        if !self.client_supports(capability) {
            return Err(PeerError::MissingCapability(capability));
        }
        let request = self.inner.peer.request(key, method, params);
        let raw = tokio::select! {
            r = request => r?,
            _ = self.inner.cancel.cancelled() => return Err(PeerError::Cancelled),
        };
        serde_json::from_str(raw.get())
            .map_err(|e| PeerError::Rejected(RpcError::invalid_params(e.to_string())))
    }
}
