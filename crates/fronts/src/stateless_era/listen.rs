//! `subscriptions/listen`: a long-lived POST answered as an event stream,
//! carrying the list-change and resource-update notifications the client
//! asked for, each tagged with the subscription id (the request's id).

use std::sync::Arc;

use axum::response::Response;
use serde_json::{Value, json};
use switchboard_http::Frame;
use switchboard_http::error::TransportError;
use switchboard_http::guard::Accepts;
use switchboard_http::sse;
use switchboard_proto::{RequestId, notification_json};
use switchboard_runtime::{Access, Catalog, ServerEvent, Subscription};
use switchboard_tenancy::Principal;
use tokio::sync::mpsc;

use crate::Fronts;
use switchboard_stateless::meta::SUBSCRIPTION_ID;

pub(crate) const METHOD: &str = "subscriptions/listen";
const ACKNOWLEDGED: &str = "notifications/subscriptions/acknowledged";

/// Resource URIs one listen stream may follow (the rest are not granted,
/// which the acknowledgement shows).
const MAX_RESOURCE_URIS: usize = 1000;

/// What the client wants to hear about.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    tools: bool,
    prompts: bool,
    resources: bool,
    resource_uris: Vec<String>,
}

impl Filter {
    /// Read the filter from the listen request's params (the fields may sit
    /// at the top level or under `filter`/`notifications`).
    pub(crate) fn parse(params: &Value) -> Self {
        let src = params
            .get("filter")
            .or_else(|| params.get("notifications"))
            .unwrap_or(params);
        let flag = |k: &str| src.get(k).and_then(Value::as_bool).unwrap_or(false);
        let resource_uris = src
            .get("resourceSubscriptions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .take(MAX_RESOURCE_URIS)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            tools: flag("toolsListChanged"),
            prompts: flag("promptsListChanged"),
            resources: flag("resourcesListChanged"),
            resource_uris,
        }
    }

    /// The filter as granted, echoed in the acknowledgement.
    fn to_json(&self) -> Value {
        let mut v = json!({});
        let flags = [
            ("toolsListChanged", self.tools),
            ("promptsListChanged", self.prompts),
            ("resourcesListChanged", self.resources),
        ];
        for (key, on) in flags {
            if on {
                v[key] = json!(true);
            }
        }
        if !self.resource_uris.is_empty() {
            v["resourceSubscriptions"] = json!(self.resource_uris);
        }
        v
    }

    fn wants(&self, event: &ServerEvent) -> bool {
        match event {
            ServerEvent::ToolsListChanged => self.tools,
            ServerEvent::PromptsListChanged => self.prompts,
            ServerEvent::ResourcesListChanged => self.resources,
            ServerEvent::ResourceUpdated { uri } => self.resource_uris.iter().any(|u| u == uri),
        }
    }
}

fn tagged(method: &str, mut params: Value, id: &RequestId) -> Arc<str> {
    params["_meta"] = json!({SUBSCRIPTION_ID: id.to_value()});
    Arc::from(notification_json(method, &params))
}

/// Whether the tenant may hear of `ev`: resource updates only for
/// resources it may read.
fn visible(catalog: &Catalog, access: &dyn Access, ev: &ServerEvent) -> bool {
    match ev {
        ServerEvent::ResourceUpdated { uri } => catalog.resource_visible(access, uri),
        _ => true,
    }
}

/// Open the stream: the acknowledgement first, then matching events until
/// the client goes away or the server stops.
pub(crate) async fn serve(
    app: &Fronts,
    who: &Principal,
    id: RequestId,
    params: &Value,
    accepts: Accepts,
) -> Result<Response, TransportError> {
    if !accepts.sse {
        return Err(TransportError::NotAcceptable("text/event-stream"));
    }
    // A listen stream does no work, but it costs a task and a connection:
    // it counts against the caller's rates, its tenant's streams, and the
    // streams one client may hold.
    let identity = who.identity();
    app.gate().check_rates(who, None, &identity, None).await?;
    let tenant_streams = app.gate().stream_quota(who, None)?;
    let held = app.gate().hold_listen_stream(&identity)?;
    let filter = Filter::parse(params);
    let policy = who.tenant.policy.clone();
    let catalog = app.catalog().clone();
    let events = app.catalog().bus().subscribe();
    let (tx, rx) = mpsc::channel(app.config().stream_buffer);
    let ack = tagged(
        ACKNOWLEDGED,
        json!({"notifications": filter.to_json()}),
        &id,
    );
    let _ = tx.try_send(Frame {
        id: None,
        data: ack,
    });
    let shutdown = app.shutdown_token().clone();
    let upstream = UpstreamSubscriptions::open(&catalog, &*policy, &filter, who).await;
    tokio::spawn(async move {
        pump(events, &tx, &filter, &catalog, &*policy, &id, &shutdown).await;
        upstream.close().await;
    });
    let mut end = app
        .sessions()
        .stream_end_on(tokio_util::sync::CancellationToken::new());
    end.tenant_streams = Some(tenant_streams);
    end.held = Some(std::sync::Arc::new(held));
    Ok(sse::response(None, rx, app.config().keep_alive(), end))
}

/// Carry the wanted events to the stream until the client goes away or the
/// server shuts down. While the client is slow to read, what is published
/// waits in the subscription, merged (see `switchboard_runtime::events`):
/// nothing is skipped.
async fn pump(
    mut events: Subscription,
    tx: &mpsc::Sender<Frame>,
    filter: &Filter,
    catalog: &Catalog,
    policy: &dyn Access,
    id: &RequestId,
    shutdown: &tokio_util::sync::CancellationToken,
) {
    loop {
        let batch = tokio::select! {
            b = events.recv() => b,
            _ = tx.closed() => return,
            _ = shutdown.cancelled() => return,
        };
        let Some(batch) = batch else { return };
        for ev in batch.resolve(|| filter.resource_uris.clone()) {
            if !filter.wants(&ev) || !visible(catalog, policy, &ev) {
                continue;
            }
            let frame = Frame {
                id: None,
                data: tagged(ev.method(), ev.params(), id),
            };
            if tx.send(frame).await.is_err() {
                return;
            }
        }
    }
}

/// The resources of upstreams a listen stream asked about: subscribed
/// upstream (in the caller's own upstream process or session) while the
/// stream lives, so their `resources/updated` reach it.
struct UpstreamSubscriptions {
    subscribed: Vec<(Arc<dyn switchboard_runtime::Provider>, String)>,
    caller: switchboard_runtime::Caller,
}

/// Upstream resources one listen stream subscribes at most.
const MAX_UPSTREAM_SUBSCRIPTIONS: usize = 64;

impl UpstreamSubscriptions {
    async fn open(
        catalog: &Catalog,
        policy: &dyn Access,
        filter: &Filter,
        who: &Principal,
    ) -> Self {
        let caller = who.caller(None);
        let mut subscribed = Vec::new();
        for uri in &filter.resource_uris {
            if subscribed.len() >= MAX_UPSTREAM_SUBSCRIPTIONS {
                break;
            }
            if !catalog.resource_visible(policy, uri) {
                continue;
            }
            let Some(p) = catalog.resource_provider(uri) else {
                continue;
            };
            match p.subscribe(uri, true, &caller).await {
                Ok(()) => subscribed.push((p.clone(), uri.clone())),
                Err(e) => {
                    tracing::debug!(upstream = p.name(), "subscribe for a listen stream: {e}")
                }
            }
        }
        Self { subscribed, caller }
    }

    async fn close(self) {
        for (p, uri) in &self.subscribed {
            if let Err(e) = p.subscribe(uri, false, &self.caller).await {
                tracing::debug!(
                    upstream = p.name(),
                    "unsubscribe at the end of a listen stream: {e}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let f = Filter::parse(
            &json!({"filter": {"toolsListChanged": true, "resourceSubscriptions": ["a://b"]}}),
        );
        assert!(f.wants(&ServerEvent::ToolsListChanged));
        assert!(!f.wants(&ServerEvent::PromptsListChanged));
        assert!(f.wants(&ServerEvent::ResourceUpdated {
            uri: "a://b".into()
        }));
        assert!(!f.wants(&ServerEvent::ResourceUpdated {
            uri: "a://c".into()
        }));
        assert_eq!(Filter::parse(&json!({})), Filter::default());
    }
}
