//! Running a catalog method in a session: what the handler task needs to
//! know about its request ([`Call`]), and the run to its final response
//! (`Sessions::run`), counted, audited and bounded by the request timeout.

use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_proto::params;
use switchboard_proto::{ErrorCode, RequestId, RpcError, error_json, result_json};
use switchboard_runtime::{ClientPeer, HandlerError, LogFilter, LogLevel, RequestContextBuilder};
use switchboard_tenancy::Principal;

use crate::live::LiveSession;
use crate::open::Session;
use crate::peer::LegacyPeer;
use crate::sessions::Sessions;

/// What a handler task needs to know about its request.
#[derive(Debug)]
pub struct Call {
    /// The request's id.
    pub id: RequestId,
    /// Its method.
    pub method: String,
    /// Its params, raw.
    pub params: Option<Box<RawValue>>,
    /// What it names (a tool, prompt or resource), read once by the front
    /// ([`switchboard_proto::params::name_of`]) from these `params`: the
    /// gate, the metrics and the tasks check trust it to match them.
    pub named: Option<String>,
    log_filter: LogFilter,
    /// The client's capabilities, from the session's record (read once
    /// per session on this node, shared).
    pub capabilities: Option<Arc<Value>>,
    who: Principal,
}

impl Call {
    /// The call `method` (`id`, `params`, naming `named`) of session `s`.
    pub fn new(
        s: &Session,
        id: RequestId,
        method: String,
        params: Option<Box<RawValue>>,
        named: Option<String>,
    ) -> Self {
        Self {
            id,
            method,
            params,
            named,
            log_filter: s
                .record
                .log_level
                .as_deref()
                .and_then(LogLevel::parse)
                .map_or(LogFilter::All, LogFilter::AtLeast),
            capabilities: s.live.capabilities(&s.record),
            who: s.who.clone(),
        }
    }
}

impl Sessions {
    /// Run a catalog method to its final response; `None` when cancelled.
    pub async fn run(
        &self,
        live: &LiveSession,
        call: Call,
        peer: Arc<LegacyPeer>,
    ) -> Option<String> {
        let (token, _running) = live.start(&call.id);
        let builder = RequestContextBuilder::new(peer as Arc<dyn ClientPeer>, call.id.clone())
            .progress_token(params::progress_token(call.params.as_deref()))
            .log_filter(call.log_filter)
            .client_capabilities(call.capabilities)
            .caller(call.who.caller(Some(&live.id)))
            .cancel(token);
        let ctx = self.catalog().context(builder);
        let start = std::time::Instant::now();
        let tool = switchboard_observe::metrics::tool_of(
            self.catalog(),
            &call.method,
            call.named.as_deref(),
        );
        let handling = self
            .catalog()
            .handle(&call.method, call.params.as_deref(), ctx);
        let Ok(outcome) = tokio::time::timeout(self.config().request_timeout(), handling).await
        else {
            // Dropping the handler's future cancelled it.
            self.metrics().requests.rejected("timeout");
            switchboard_observe::access::outcome(
                "timeout",
                Some(ErrorCode::REQUEST_TIMEOUT.0.into()),
            );
            let took = start.elapsed();
            self.gate().finished(
                &call.who,
                Some(&live.id),
                &call.method,
                tool,
                "timeout",
                took,
            );
            return Some(error_json(
                Some(&call.id),
                &switchboard_http::reply::timed_out(self.config().request_timeout_secs),
            ));
        };
        let label = switchboard_observe::metrics::outcome(&outcome);
        let took = start.elapsed();
        self.gate()
            .finished(&call.who, Some(&live.id), &call.method, tool, label, took);
        switchboard_observe::access::outcome(label, switchboard_observe::metrics::code(&outcome));
        match outcome {
            Ok(v) => Some(result_json(&call.id, &v)),
            Err(HandlerError::Rpc(e)) => Some(error_json(Some(&call.id), &e)),
            Err(HandlerError::Cancelled) => None,
            Err(
                e @ (HandlerError::MissingCapability(_)
                | HandlerError::InputRequired
                | HandlerError::StartTask),
            ) => Some(error_json(
                Some(&call.id),
                &RpcError::invalid_params(e.to_string()),
            )),
        }
    }
}
