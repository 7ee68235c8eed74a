//! Where a legacy request of a session runs ([`Owners::route`]): here, or
//! forwarded to the node owning its session's `per_session` process, its
//! answer streamed back; or answered with the takeover notice.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde_json::json;
use serde_json::value::RawValue;
use switchboard_http::error::TransportError;
use switchboard_http::reply::json_response;
use switchboard_proto::{RequestId, RpcError, error_json, methods};
use switchboard_runtime::Catalog;
use switchboard_store::Claim;

use super::{FORWARD_HEADER, Owners, UPSTREAM_RESET};

/// Where a request runs.
#[derive(Debug)]
pub enum Route {
    /// Here, on this node.
    Here,
    /// Answered already (forwarded, or the takeover notice).
    Answered(Response),
}

/// One legacy request of a session, as `route` needs it.
#[derive(Debug)]
pub struct Request<'a> {
    /// The session's id.
    pub session: &'a str,
    /// The request's JSON-RPC id.
    pub id: &'a RequestId,
    /// The request's method.
    pub method: &'a str,
    /// The request's params.
    pub params: Option<&'a RawValue>,
    /// The client's HTTP headers (carried to the owner).
    pub headers: &'a HeaderMap,
    /// The client's HTTP body (carried to the owner as it came).
    pub body: &'a Bytes,
    /// The virtual server the request came to (`/mcp/<name>`): the owner
    /// is asked at its endpoint of the same name.
    pub server: Option<&'a str>,
}

impl Owners {
    /// Decide where `r` runs: here, or answered by forwarding it to the
    /// session's owner or with the takeover notice. A forwarding header that
    /// does not verify is refused (403) whatever the method.
    pub async fn route(&self, r: Request<'_>) -> Result<Route, TransportError> {
        let forwarded = r.headers.get(FORWARD_HEADER);
        if let Some(v) = forwarded
            && !self.verify(v, r.session, r.body)
        {
            tracing::warn!(session = %switchboard_observe::ids::short(r.session), "refused a forwarded request whose signature does not verify");
            return Err(TransportError::ForgedForward);
        }
        if !needs_owner(&self.catalog, r.method, r.params) {
            return Ok(Route::Here);
        }
        let deadline = Instant::now() + self.lease + Duration::from_secs(2);
        loop {
            match self.claim(r.session).await? {
                Claim::New | Claim::Mine => return Ok(Route::Here),
                Claim::TookOver { from } => {
                    // A process this node kept from an earlier ownership is stale.
                    self.end_processes(r.session).await;
                    return Ok(Route::Answered(reset_notice(r.id, &from)));
                }
                // The sender thought this node owned it; the record moved since.
                Claim::Other { .. } if forwarded.is_some() => {
                    return Err(TransportError::OwnerUnreachable(
                        "ownership moved while the request was forwarded".into(),
                    ));
                }
                Claim::Other { node, url } => match forward(self, &url, &r).await {
                    Ok(resp) => return Ok(Route::Answered(resp)),
                    // Dead but its lease runs: wait for it to lapse, then take over.
                    Err(Forward::Unreachable(e)) if Instant::now() < deadline => {
                        tracing::debug!(owner = %node, error = %e, "session owner unreachable; waiting for its lease");
                        tokio::time::sleep(self.lease / 10).await;
                    }
                    // The request may have reached the owner and run there: never
                    // sent twice.
                    Err(Forward::Unreachable(e) | Forward::Failed(e)) => {
                        return Err(TransportError::OwnerUnreachable(e));
                    }
                },
            }
        }
    }
}

/// Whether the request goes to a provider that keeps a process per session.
fn needs_owner(catalog: &Catalog, method: &str, params: Option<&RawValue>) -> bool {
    let providers = catalog.providers();
    if !providers.iter().any(|p| p.per_session_state()) {
        return false;
    }
    // Params the method's reader refuses name nothing: refused here.
    let Ok(Some(name)) = switchboard_proto::params::named(method, params) else {
        return false;
    };
    providers
        .iter()
        .filter(|p| p.per_session_state())
        .any(|p| match method {
            methods::TOOLS_CALL => p.owns_tool(&name),
            methods::PROMPTS_GET => p.owns_prompt(&name),
            _ => p.owns_resource(&name),
        })
}

/// The answer to the request that found its session's owner gone: the
/// upstream state is lost; a retry runs on a fresh process here.
fn reset_notice(id: &RequestId, from: &str) -> Response {
    let error = RpcError::new(
        UPSTREAM_RESET,
        "the node holding this session's upstream process is gone: its state was lost; \
         a fresh upstream process serves the session from the next request (retry it)",
    )
    .with_data(json!({"reason": "upstream_reset", "previousOwner": from}));
    json_response(StatusCode::OK, error_json(Some(id), &error))
}

/// Headers not carried across a hop. `Host` is: the owner checks the
/// client's (`allowed_hosts`) as if it had been called directly.
fn hop_by_hop(name: &header::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "content-length"
            | "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "upgrade"
            | "proxy-connection"
            | FORWARD_HEADER
    )
}

/// Why a forward got no answer.
enum Forward {
    /// No connection to the owner: the request did not reach it.
    Unreachable(String),
    /// The request may have reached the owner (sent, then the connection
    /// failed, or no answer in time): not to be sent again.
    Failed(String),
}

/// POST the client's request to the owner at `url` and stream its answer
/// back. The answer's head must come within the longest a request may run
/// there (its queue deadline, its timeout and a margin), so an owner that
/// accepts connections and never answers (stopped, wedged) holds no request
/// forever.
async fn forward(owners: &Owners, url: &str, r: &Request<'_>) -> Result<Response, Forward> {
    let c = owners.config.load();
    let limit =
        c.request_timeout() + Duration::from_millis(c.queue_deadline_ms) + Duration::from_secs(5);
    match tokio::time::timeout(limit, send(owners, url, r)).await {
        Ok(answer) => answer,
        Err(_) => Err(Forward::Failed(format!(
            "the session's owner did not answer within {} s",
            limit.as_secs()
        ))),
    }
}

async fn send(owners: &Owners, url: &str, r: &Request<'_>) -> Result<Response, Forward> {
    let url = match r.server {
        Some(server) => format!("{}/{server}", url.trim_end_matches('/')),
        None => url.to_owned(),
    };
    let mut req = owners.http.post(url).body(r.body.clone());
    for (name, value) in r.headers {
        if !hop_by_hop(name) {
            req = req.header(name, value);
        }
    }
    req = req.header(FORWARD_HEADER, owners.sign(r.session, r.body));
    let resp = req.send().await.map_err(|e| {
        if e.is_connect() {
            Forward::Unreachable(e.to_string())
        } else {
            Forward::Failed(e.to_string())
        }
    })?;
    let mut out = Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        if !hop_by_hop(name) && name != header::HOST {
            out = out.header(name, value);
        }
    }
    out.body(Body::from_stream(resp.bytes_stream()))
        .map_err(|e| Forward::Failed(e.to_string()))
}
