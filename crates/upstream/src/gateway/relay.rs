//! Where one upstream process's own messages go: to the client requests
//! it is serving right now.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_proto::{ErrorCode, RpcError, methods};
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
    /// Woken when a call starts being served.
    arrived: tokio::sync::Notify,
}

/// How long a request the process sends while it serves no call (e.g.
/// `roots/list` right after `initialize`, before the call it was started
/// for is registered) waits for one to carry it.
const WAIT_FOR_CALL: std::time::Duration = std::time::Duration::from_secs(10);

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
        *self.missing.lock()
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
        let schema = (method == methods::ELICITATION_CREATE)
            .then(|| params.get("requestedSchema").cloned())
            .flatten();
        self.ctx
            .forward_request(key, method, params)
            .await
            .map(|answer| match &schema {
                Some(schema) => with_defaults(schema, answer),
                None => answer,
            })
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
                        *self.missing.lock() = Some(c);
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

/// An accepted form elicitation's answer with the requested schema's
/// `default`s filled in for the fields its content leaves out (SEP-1034:
/// the client applies them; the gateway is the upstream's client, whether
/// or not its own client did).
fn with_defaults(schema: &Value, answer: Box<RawValue>) -> Box<RawValue> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return answer;
    };
    let defaults: Vec<(&String, &Value)> = properties
        .iter()
        .filter_map(|(name, p)| Some((name, p.get("default")?)))
        .collect();
    if defaults.is_empty() {
        return answer;
    }
    let Ok(mut result) = serde_json::from_str::<Value>(answer.get()) else {
        return answer;
    };
    if result.get("action").and_then(Value::as_str) != Some("accept") {
        return answer;
    }
    let Some(content) = result
        .as_object_mut()
        .map(|r| {
            r.entry("content")
                .or_insert_with(|| Value::Object(Default::default()))
        })
        .and_then(Value::as_object_mut)
    else {
        return answer;
    };
    for (name, default) in defaults {
        content
            .entry(name.clone())
            .or_insert_with(|| default.clone());
    }
    crate::json::to_raw(&result)
}

/// Removes its call from the relay when the call ends.
pub(crate) struct Serving<'a> {
    relay: &'a Relay,
    pub(crate) call: Arc<Call>,
}

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        let id = self.call.id;
        self.relay.calls.lock().retain(|c| c.id != id);
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
            arrived: tokio::sync::Notify::new(),
        }
    }

    /// Whether the process is serving any call now.
    pub(crate) fn busy(&self) -> bool {
        !self.calls.lock().is_empty()
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
        self.calls.lock().push(call.clone());
        self.arrived.notify_waiters();
        Serving { relay: self, call }
    }

    /// The call to carry a request of the process: as [`Relay::target`],
    /// but if no call at all is in flight, the next one to start (within
    /// [`WAIT_FOR_CALL`]) — a process is started for a call, and a warm one
    /// is handed to the client whose call takes it. Such a request is not
    /// part of that call, so only a session client, which can be sent
    /// requests of its own, takes it: a stateless client's call must not
    /// fail for a request it never caused.
    async fn carrier(&self) -> Option<Arc<Call>> {
        let deadline = tokio::time::Instant::now() + WAIT_FOR_CALL;
        let mut waited = false;
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(call) = self.target(None) {
                return (!waited || !call.ctx.is_stateless()).then_some(call);
            }
            if !self.calls.lock().is_empty() {
                return None; // calls of several clients: whose is unknown
            }
            waited = true;
            tokio::time::timeout_at(deadline, arrived).await.ok()?;
        }
    }

    /// The call a message of the process belongs to: the one whose
    /// progress token it carries, else the newest — but only when every
    /// call in flight is the same client's. A shared process serving
    /// several clients at once cannot say whose a log line or a request
    /// is, so it goes to none of them rather than to the wrong one.
    fn target(&self, token: Option<&Value>) -> Option<Arc<Call>> {
        let calls = self.calls.lock();
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
        let Some(call) = self.carrier().await else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_elicitation_gets_the_schemas_defaults() {
        let schema = json!({"type": "object", "properties": {
            "name": {"type": "string", "default": "John Doe"},
            "age": {"type": "integer", "default": 30},
            "note": {"type": "string"},
        }});
        let raw = |v: Value| crate::json::to_raw(&v);
        let filled = with_defaults(
            &schema,
            raw(json!({"action": "accept", "content": {"age": 41}})),
        );
        let v: Value = serde_json::from_str(filled.get()).unwrap();
        assert_eq!(
            v["content"],
            json!({"age": 41, "name": "John Doe"}),
            "given values stay"
        );
        let filled = with_defaults(&schema, raw(json!({"action": "accept"})));
        let v: Value = serde_json::from_str(filled.get()).unwrap();
        assert_eq!(v["content"], json!({"age": 30, "name": "John Doe"}));
        let declined = with_defaults(&schema, raw(json!({"action": "decline"})));
        assert_eq!(
            declined.get(),
            r#"{"action":"decline"}"#,
            "only an acceptance is filled"
        );
    }
    use serde_json::json;
    use switchboard_proto::RequestId;
    use switchboard_runtime::{CatalogBuilder, ClientPeer, RequestContextBuilder};

    /// A client that answers every request with `{"answered": true}`.
    struct Answering;

    #[async_trait]
    impl ClientPeer for Answering {
        async fn notify(&self, _: &str, _: Value) {}
        async fn request(&self, _: &str, _: &str, _: Value) -> Result<Box<RawValue>, PeerError> {
            Ok(RawValue::from_string(json!({"answered": true}).to_string()).unwrap())
        }
    }

    /// A request the process sends before any call is served waits for the
    /// first call and goes to its client (paused time: no wall clock).
    #[tokio::test(start_paused = true)]
    async fn a_request_before_any_call_waits_for_one() {
        let relay = Arc::new(Relay::new(Arc::default(), None));
        let asking = {
            let relay = relay.clone();
            tokio::spawn(async move { relay.request("roots/list", None).await })
        };
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        assert!(!asking.is_finished(), "it waits for a call");
        let catalog = CatalogBuilder::new().build().unwrap();
        let ctx = catalog.context(
            RequestContextBuilder::new(Arc::new(Answering), RequestId::from_u64(1))
                .client_capabilities(Some(json!({"roots": {}}))),
        );
        let _serving = relay.serve(&ctx);
        let answer = asking
            .await
            .unwrap()
            .expect("answered by the call's client");
        assert_eq!(answer.get(), r#"{"answered":true}"#);

        // A stateless call does not take a request sent before it.
        let relay = Arc::new(Relay::new(Arc::default(), None));
        let asking = {
            let relay = relay.clone();
            tokio::spawn(async move { relay.request("roots/list", None).await })
        };
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let stateless = catalog.context(
            RequestContextBuilder::new(Arc::new(Answering), RequestId::from_u64(2))
                .stateless(true)
                .client_capabilities(Some(json!({}))),
        );
        let serving = relay.serve(&stateless);
        assert!(asking.await.unwrap().is_err(), "refused, not asked");
        assert!(!serving.call.input_required() && serving.call.missing_capability().is_none());
        drop(serving);

        // With no call ever, it gives up after WAIT_FOR_CALL.
        let idle = Relay::new(Arc::default(), None);
        let e = idle.request("roots/list", None).await.unwrap_err();
        assert!(e.message.contains("no single client"), "{}", e.message);
    }
}
