//! 2026-07-28 requests on the stdio front: a request whose `_meta` names
//! a protocol version stands alone, as on HTTP — no `initialize` needed,
//! its client capabilities and log level its own, an `input_required`
//! result with a sealed state when the handler needs the client. A gateway
//! in front of this process can so pass a stateless client's requests
//! through unchanged.

use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use switchboard_proto::version::MODERN;
use switchboard_proto::{RequestId, error_json, notification_json, response_json};
use switchboard_runtime::{
    Catalog, ClientPeer, HandlerError, LogFilter, PeerError, RequestContextBuilder, async_trait,
};
use switchboard_stateless::meta::{self, PROTOCOL_VERSION};
use switchboard_stateless::names::{DISCOVER, REMOVED};
use switchboard_stateless::seal::target_of;
use switchboard_stateless::{Meta, RequestState, Rounds, Shape, modern_error};
use switchboard_store::now_ms;
use tokio_util::sync::CancellationToken;

use super::{Client, lock};
use switchboard_http::error::TransportError;

/// How long lists may be cached, as on HTTP by default.
const LIST_TTL_MS: u64 = 60_000;
/// How long a sealed request state stays valid.
const STATE_TTL_MS: u64 = 10 * 60 * 1000;
/// The principal every state of this process is bound to: one client.
const PRINCIPAL: &str = "stdio";

/// The params of a request, parsed, if they carry a protocol version in
/// `_meta` (a stateless request); `None` for session-era requests.
pub(super) fn params_if_stateless(params: Option<&RawValue>) -> Option<Value> {
    let raw = params?.get();
    if !raw.contains(PROTOCOL_VERSION) {
        return None; // cheap test first: most lines are session-era
    }
    let v: Value = serde_json::from_str(raw).ok()?;
    v.get("_meta")?.get(PROTOCOL_VERSION)?;
    Some(v)
}

fn shape(catalog: &Catalog) -> Shape<'_> {
    Shape::new(catalog, LIST_TTL_MS, false)
}

/// Answer one stateless request (in its own task when it runs a handler).
pub(super) async fn serve(
    client: &Arc<Client>,
    id: RequestId,
    method: String,
    params: Option<Box<RawValue>>,
    value: Value,
) {
    let meta = match check(&method, &value) {
        Ok(Some(meta)) => meta,
        Ok(None) => {
            let result = shape(&client.catalog).discover();
            return client.send(response_json(&id, &result.to_string())).await;
        }
        Err(e) => return client.send(error_json(Some(&id), &e.rpc())).await,
    };
    let client = client.clone();
    let token = client.closed.child_token();
    lock(&client.running).insert(id.clone(), token.clone());
    tokio::spawn(async move { run(client, id, method, params, meta, token).await });
}

/// The checks before a handler runs; `Ok(None)` for `server/discover`.
fn check(method: &str, params: &Value) -> Result<Option<Meta>, TransportError> {
    let meta = meta::parse(params).map_err(TransportError::MissingMeta)?;
    if meta.version != MODERN {
        return Err(TransportError::UnsupportedModernVersion(meta.version));
    }
    match method {
        DISCOVER => Ok(None),
        m if REMOVED.contains(&m) || !Catalog::handles(m) => {
            Err(TransportError::MethodNotFound(m.to_owned()))
        }
        _ => Ok(Some(meta)),
    }
}

async fn run(
    client: Arc<Client>,
    id: RequestId,
    method: String,
    params: Option<Box<RawValue>>,
    meta: Meta,
    token: CancellationToken,
) {
    let target = target_of(&method, params.as_deref());
    let line = match responses(&client, &meta, &method, &target) {
        Err(e) => error_json(Some(&id), &e.rpc()),
        Ok(responses) => {
            let peer = Arc::new(Peer {
                client: client.clone(),
                rounds: Rounds::new(responses),
            });
            let builder =
                RequestContextBuilder::new(peer.clone() as Arc<dyn ClientPeer>, id.clone())
                    .stateless(true)
                    .progress_token(meta.progress_token.clone())
                    .log_filter(meta.log_level.map_or(LogFilter::Off, LogFilter::AtLeast))
                    .client_capabilities(Some(meta.capabilities.clone()))
                    .cancel(token);
            let ctx = client.catalog.context(builder);
            let outcome = client.catalog.handle(&method, params.as_deref(), ctx).await;
            match answer(&client, &id, &method, &target, outcome, &peer) {
                Some(line) => line,
                None => {
                    lock(&client.running).remove(&id);
                    return;
                }
            }
        }
    };
    lock(&client.running).remove(&id);
    client.send(line).await;
}

/// The answers of earlier rounds: the sealed state's and the retry's own.
fn responses(
    client: &Client,
    meta: &Meta,
    method: &str,
    target: &str,
) -> Result<Map<String, Value>, TransportError> {
    let mut responses = match &meta.request_state {
        None => Map::new(),
        Some(token) => {
            let state = client
                .sealer
                .open(token, now_ms())
                .map_err(|e| TransportError::BadRequestState(e.to_string()))?;
            if state.method != method || state.target != target || state.principal != PRINCIPAL {
                return Err(TransportError::BadRequestState(
                    "requestState belongs to another request".into(),
                ));
            }
            state.responses
        }
    };
    responses.extend(meta.input_responses.clone().unwrap_or_default());
    Ok(responses)
}

/// The response line for a handler's outcome; `None` if it was cancelled.
fn answer(
    client: &Client,
    id: &RequestId,
    method: &str,
    target: &str,
    outcome: Result<Value, HandlerError>,
    peer: &Peer,
) -> Option<String> {
    let shape = shape(&client.catalog);
    let ok = |v: Value| Some(response_json(id, &v.to_string()));
    match outcome {
        Ok(v) => ok(shape.complete(method, v)),
        Err(HandlerError::InputRequired) => {
            let (missing, responses) = peer.rounds.take();
            let state = RequestState {
                method: method.to_owned(),
                target: target.to_owned(),
                principal: PRINCIPAL.to_owned(),
                responses,
                expires_ms: now_ms() + STATE_TTL_MS,
            };
            ok(shape.input_required(missing, client.sealer.seal(&state)))
        }
        Err(HandlerError::Cancelled) => None,
        Err(HandlerError::MissingCapability(cap)) => Some(error_json(
            Some(id),
            &TransportError::MissingCapability(cap).rpc(),
        )),
        Err(HandlerError::Rpc(e)) => Some(error_json(Some(id), &modern_error(e))),
        // This peer never lets a call become a task.
        Err(e @ HandlerError::StartTask) => Some(error_json(
            Some(id),
            &switchboard_proto::RpcError::internal(e.to_string()),
        )),
    }
}

/// The client as one stateless request sees it: notifications go out on
/// stdout; requests are answered from the retry's responses or become
/// input requests.
#[derive(Debug)]
struct Peer {
    client: Arc<Client>,
    rounds: Rounds,
}

#[async_trait]
impl ClientPeer for Peer {
    async fn notify(&self, method: &str, params: Value) {
        self.client.send(notification_json(method, &params)).await;
    }

    async fn request(
        &self,
        key: &str,
        method: &str,
        params: Value,
    ) -> Result<Box<RawValue>, PeerError> {
        self.rounds.answer(key, method, params)
    }
}
