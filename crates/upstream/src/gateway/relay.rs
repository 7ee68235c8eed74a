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

    /// Whether the process is serving any call now.
    pub(crate) fn busy(&self) -> bool {
        !self.lock().is_empty()
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

    fn target(&self, token: Option<&Value>) -> Option<Arc<Call>> {
        let calls = self.lock();
        if let Some(token) = token
            && let Some(call) = calls.iter().find(|c| c.ctx.progress_token() == Some(token))
        {
            return Some(call.clone());
        }
        calls.last().cloned()
    }
}

#[async_trait]
impl Downstream for Relay {
    async fn notify(&self, method: &str, params: Option<&RawValue>) {
        if method.ends_with("/list_changed") {
            self.stale.store(true, Ordering::Relaxed);
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
                "upstream notification with no call to carry it: dropped"
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
                "no client request is in progress to carry this request",
            ));
        };
        let params: Value = params
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .unwrap_or(Value::Null);
        let key = format!("upstream-{}", call.asked.fetch_add(1, Ordering::Relaxed));
        call.ctx
            .forward_request(&key, method, params)
            .await
            .map_err(|e| match e {
                PeerError::Rejected(e) => e,
                PeerError::InputRequired(key) => {
                    call.input_required.store(true, Ordering::Relaxed);
                    RpcError::new(
                        ErrorCode::INTERNAL_ERROR,
                        format!("the client answers {key} with a retry"),
                    )
                }
                PeerError::MissingCapability(c) => {
                    if call.ctx.is_stateless() {
                        *call.missing.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
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
