//! The methods that touch a session's state rather than the catalog
//! (`ping`, `logging/setLevel`, `resources/subscribe` and
//! `unsubscribe`), and a session's client notifications (`initialized`,
//! `notifications/cancelled`).

use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_http::error::TransportError;
use switchboard_proto::params::{Cancelled, ResourceUri, SetLevel};
use switchboard_proto::{ErrorCode, RequestId, RpcError, methods};
use switchboard_runtime::LogLevel;
use switchboard_store::SessionRecord;

use crate::open::Session;
use crate::sessions::Sessions;

/// Most resource subscriptions one session may hold (the stdio front's
/// one client too).
pub const MAX_SUBSCRIPTIONS: usize = 1000;

impl Sessions {
    /// The methods that touch session state rather than the catalog; `None`
    /// for any other method.
    pub async fn session_method(
        &self,
        s: &Session,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<Option<Result<Value, RpcError>>, TransportError> {
        let answer = match method {
            methods::PING => Ok(json!({})),
            methods::INITIALIZE => return Err(TransportError::AlreadyInitialized),
            methods::SET_LEVEL => match SetLevel::read(params) {
                Ok(p) if LogLevel::parse(&p.level).is_some() => {
                    let mut record = SessionRecord::clone(&s.record);
                    record.log_level = Some(p.level.into_owned());
                    in_band(self.save_session(s, &record).await)?.map(|()| json!({}))
                }
                Ok(p) => Err(RpcError::invalid_params(format!(
                    "logging/setLevel: unknown level {:?}",
                    p.level
                ))),
                Err(e) => Err(e),
            },
            methods::RESOURCES_SUBSCRIBE | methods::RESOURCES_UNSUBSCRIBE => {
                self.subscription(s, method == methods::RESOURCES_SUBSCRIBE, params)
                    .await?
            }
            _ => return Ok(None),
        };
        Ok(Some(answer))
    }

    async fn subscription(
        &self,
        s: &Session,
        subscribe: bool,
        params: Option<&RawValue>,
    ) -> Result<Result<Value, RpcError>, TransportError> {
        let method = if subscribe {
            methods::RESOURCES_SUBSCRIBE
        } else {
            methods::RESOURCES_UNSUBSCRIBE
        };
        let uri = match ResourceUri::read(method, params) {
            Ok(p) => p.uri.into_owned(),
            Err(e) => return Ok(Err(e)),
        };
        let mut record = SessionRecord::clone(&s.record);
        let catalog = self.catalog();
        let upstream = catalog.resource_provider(&uri);
        if subscribe {
            let visible = catalog.resource_visible(&*s.who.tenant.policy, &uri);
            if !visible || (!catalog.has_resource(&uri) && upstream.is_none()) {
                return Ok(Err(RpcError::new(
                    ErrorCode::RESOURCE_NOT_FOUND,
                    format!("resource not found: {uri}"),
                )
                .with_data(json!({"uri": uri}))));
            }
            if record.subscriptions.len() >= MAX_SUBSCRIPTIONS {
                return Ok(Err(RpcError::invalid_params(format!(
                    "at most {MAX_SUBSCRIPTIONS} subscriptions per session"
                ))));
            }
            if !record.subscriptions.contains(&uri) {
                record.subscriptions.push(uri.clone());
            }
            // Before the upstream hears of it: a refusal leaves nothing behind.
            if let Err(e) = in_band(self.room_for(s, &record).map(drop))? {
                return Ok(Err(e));
            }
        } else {
            record.subscriptions.retain(|u| *u != uri);
        }
        if let Some(p) = upstream {
            let caller = s.who.caller(Some(&s.live.id));
            if let Err(e) = p.subscribe(&uri, subscribe, &caller).await {
                return Ok(Err(RpcError::internal(format!(
                    "upstream {}: {e}",
                    p.name()
                ))));
            }
        }
        if let Err(e) = in_band(self.save_session(s, &record).await)? {
            return Ok(Err(e));
        }
        s.live.set_subscriptions(&record.subscriptions);
        Ok(Ok(json!({})))
    }

    /// The client finished initializing: the record says so (the init
    /// timeout no longer applies) and the server may send it requests.
    pub async fn initialized(&self, s: &Session) -> Result<(), TransportError> {
        if !s.record.initialized {
            let mut record = SessionRecord::clone(&s.record);
            record.initialized = true;
            self.save_session(s, &record).await?;
        }
        s.live.greet();
        Ok(())
    }

    /// A request on a session whose `notifications/initialized` never
    /// came: the client acts initialized — the notification was lost on
    /// the way (refused 503 while the store was away, or a proxy's 502
    /// while a node drained, both seen in the chaos run), and clients do
    /// not send a notification twice — so the session is initialized now,
    /// rather than served and then ended by the init timeout as abandoned.
    /// A no-op (one field read) for an initialized session.
    pub async fn initialized_by_use(&self, s: &Session) -> Result<(), TransportError> {
        if s.record.initialized {
            return Ok(());
        }
        self.initialized(s).await
    }

    /// Handle a client notification of a session.
    pub async fn notification(
        &self,
        s: &Session,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<(), TransportError> {
        match method {
            methods::INITIALIZED => self.initialized(s).await?,
            methods::CANCELLED => {
                if let Ok(c) = Cancelled::read(params)
                    && let Ok(id) = RequestId::from_raw(c.request_id)
                    && !s.live.cancel(&id)
                {
                    self.route_cancel(&s.live, &id);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A session method's change refused for the record's size is the
/// method's answer (-32602 in a 200, as its other bad params); any other
/// failure (a quota, the store) is the transport's.
fn in_band(saved: Result<(), TransportError>) -> Result<Result<(), RpcError>, TransportError> {
    match saved {
        Err(e @ TransportError::TooLarge { .. }) => Ok(Err(e.rpc())),
        other => other.map(Ok),
    }
}
