//! Where one upstream process's own messages go: to the client requests
//! it is serving right now.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_proto::{ErrorCode, RpcError};
use switchboard_runtime::{PeerError, RequestContext};

use crate::Downstream;

/// The calls a process is serving, newest last. A progress notification
/// goes to the call whose token it carries; anything else (logs, requests
/// to the client) goes to the newest call — in `per_session` mode they are
/// all the same client's.
#[derive(Debug)]
pub(crate) struct Relay {
    calls: Mutex<Vec<Arc<Call>>>,
    next: AtomicU64,
    /// Set when the upstream announces a list change.
    stale: Arc<AtomicBool>,
    /// Where resource updates go (to the sessions subscribed to them).
    bus: Option<Arc<dyn switchboard_runtime::EventBus>>,
}

/// One client request a process is serving.
#[derive(Debug)]
pub(crate) struct Call {
    id: u64,
    ctx: RequestContext,
    /// Requests passed to this call's client so far: their input keys
    /// (`upstream-0`, `upstream-1`…) repeat on a stateless retry.
    asked: AtomicU64,
    /// The client must answer with a retry (2026-07-28 `input_required`).
    input_required: AtomicBool,
    /// A stateless client lacks a capability the upstream's request needs.
    missing: Mutex<Option<&'static str>>,
}

impl Call {
    /// Whether a request to the client turned into `input_required`.
    pub(crate) fn input_required(&self) -> bool {
        self.input_required.load(Ordering::Relaxed)
    }

    /// The capability a stateless client lacked, if the upstream asked for
    /// one (2026-07-28: -32021, not a tool error).
    pub(crate) fn missing_capability(&self) -> Option<&'static str> {
        *self.missing.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Call {
    /// Pass the upstream's request to this call's client under input key
    /// `key`. A stateless client that must answer with a retry, or lacks
    /// the capability, marks the call so (see [`Call::input_required`],
    /// [`Call::missing_capability`]); the upstream gets an error either way.
    pub(crate) async fn ask(
        &self,
        key: &str,
        method: &str,
        params: Value,
    ) -> Result<Box<RawValue>, RpcError> {
        self.ctx
            .forward_request(key, method, params)
            .await
            .map_err(|e| match e {
                PeerError::Rejected(e) => e,
                PeerError::InputRequired(key) => {
                    self.input_required.store(true, Ordering::Relaxed);
                    RpcError::new(
                        ErrorCode::INTERNAL_ERROR,
                        format!("the client answers {key} with a retry"),
                    )
                }
                PeerError::MissingCapability(c) => {
                    if self.ctx.is_stateless() {
                        *self.missing.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
                    }
                    RpcError::new(
                        ErrorCode::METHOD_NOT_FOUND,
                        format!("the client does not support {c}"),
                    )
                }
                other => RpcError::new(ErrorCode::INTERNAL_ERROR, other.to_string()),
            })
    }
}

/// Removes its call from the relay when the call ends.
pub(crate) struct Serving<'a> {
    relay: &'a Relay,
    pub(crate) call: Arc<Call>,
}

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        let id = self.call.id;
        self.relay.lock().retain(|c| c.id != id);
    }
}

impl Relay {
    pub(crate) fn new(
        stale: Arc<AtomicBool>,
        bus: Option<Arc<dyn switchboard_runtime::EventBus>>,
    ) -> Self {
        Self {
            calls: Mutex::default(),
            next: AtomicU64::new(0),
            stale,
            bus,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Call>>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Route this process's messages to `ctx` while the guard lives.
    pub(crate) fn serve(&self, ctx: &RequestContext) -> Serving<'_> {
        let call = Arc::new(Call {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            ctx: ctx.clone(),
            asked: AtomicU64::new(0),
            input_required: AtomicBool::new(false),
            missing: Mutex::new(None),
        });
        self.lock().push(call.clone());
        Serving { relay: self, call }
    }

    /// The call a message of the process belongs to: the one whose
    /// progress token it carries, else the newest — but only when every
    /// call in flight is the same client's. A shared process serving
    /// several clients at once cannot say whose a log line or a request
    /// is, so it goes to none of them rather than to the wrong one.
    fn target(&self, token: Option<&Value>) -> Option<Arc<Call>> {
        let calls = self.lock();
        if let Some(token) = token
            && let Some(call) = calls.iter().find(|c| c.ctx.progress_token() == Some(token))
        {
            return Some(call.clone());
        }
        let newest = calls.last()?;
        let client = client_of(newest);
        calls
            .iter()
            .all(|c| client_of(c) == client)
            .then(|| newest.clone())
    }
}

/// Who a call is for: its session, or its principal when stateless.
fn client_of(call: &Call) -> (&str, &str, Option<&str>) {
    let caller = call.ctx.caller();
    (
        caller.tenant.as_ref(),
        caller.subject.as_ref(),
        caller.session.as_deref(),
    )
}

/// The server event an upstream's list-change notification stands for.
fn list_changed(method: &str) -> Option<switchboard_runtime::ServerEvent> {
    use switchboard_runtime::ServerEvent;
    Some(match method {
        "notifications/tools/list_changed" => ServerEvent::ToolsListChanged,
        "notifications/prompts/list_changed" => ServerEvent::PromptsListChanged,
        "notifications/resources/list_changed" => ServerEvent::ResourcesListChanged,
        _ => return None,
    })
}

#[async_trait]
impl Downstream for Relay {
    async fn notify(&self, method: &str, params: Option<&RawValue>) {
        if let Some(event) = list_changed(method) {
            // Merged lists are shared: every session and listen stream
            // hears of it (once until the lists are fetched again).
            let first = !self.stale.swap(true, Ordering::Relaxed);
            if first && let Some(bus) = &self.bus {
                bus.publish(event);
            }
            return;
        }
        let params: Value = params
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .unwrap_or(Value::Null);
        if method == "notifications/resources/updated"
            && let (Some(bus), Some(uri)) = (&self.bus, params["uri"].as_str())
        {
            bus.publish(switchboard_runtime::ServerEvent::ResourceUpdated {
                uri: uri.to_owned(),
            });
            return;
        }
        let token = params.get("progressToken");
        let Some(call) = self.target(token) else {
            tracing::debug!(
                method,
                "upstream notification with no single client's call to carry it: dropped"
            );
            return;
        };
        call.ctx.forward_notification(method, params).await;
    }

    async fn request(
        &self,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<Box<RawValue>, RpcError> {
        let Some(call) = self.target(None) else {
            return Err(RpcError::new(
                ErrorCode::INVALID_REQUEST,
                "no single client's request is in progress to carry this request",
            ));
        };
        let params: Value = params
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .unwrap_or(Value::Null);
        let key = format!("upstream-{}", call.asked.fetch_add(1, Ordering::Relaxed));
        call.ask(&key, method, params).await
    }
}
