//! The HTTP exchanges of an upstream session, each carrying the session's
//! headers (and the spec's own), and reading replies within limits.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Response, StatusCode};
use switchboard_identity::challenge::Challenge;

use super::answer::Answer;
use super::conn::Conn;
use super::h1::H1Error;
use crate::UpstreamError;
use crate::json::truncate;

/// The session header.
pub(crate) const SESSION: HeaderName = HeaderName::from_static("mcp-session-id");
/// The negotiated version, on every request after `initialize`.
pub(crate) const VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
/// Where a resumed stream picks up.
pub(crate) const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
/// A DPoP proof (RFC 9449 §4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");
/// A server's DPoP nonce (RFC 9449 §8.1).
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");
/// How long a notification, a response or a DELETE may take.
const SMALL_EXCHANGE: Duration = Duration::from_secs(30);
/// How much of an error body is read and shown.
const SHOWN: usize = 512;

impl Conn {
    /// The spec's headers, with the caller's credential over them, if
    /// any: a DPoP-bound one with a fresh proof for this `method` (and the
    /// server's latest nonce).
    fn own_headers(&self, method: &str) -> HeaderMap {
        let mut headers = self.extra.clone();
        if let Some(auth) = self.auth.read().as_ref() {
            headers.insert(AUTHORIZATION, auth.header.clone());
            if let Some((key, token)) = &auth.dpop {
                let nonce = self.dpop_nonce.lock().clone();
                let proof = key.proof(
                    method,
                    self.url.as_str(),
                    Some(token.expose()),
                    nonce.as_deref(),
                );
                if let Ok(proof) = HeaderValue::from_str(&proof) {
                    headers.insert(DPOP, proof);
                }
            }
        }
        headers
    }

    /// Whether the caller's token is DPoP-bound.
    fn uses_dpop(&self) -> bool {
        self.auth.read().as_ref().is_some_and(|a| a.dpop.is_some())
    }

    /// Keep the nonce a response gives (`DPoP-Nonce`, RFC 9449 §9), when
    /// proofs are sent; whether it asked for the request again with it (a
    /// 401 whose `DPoP` challenge says `use_dpop_nonce`).
    fn nonce_asked(&self, response: &Answer) -> bool {
        if !self.uses_dpop() {
            return false;
        }
        let given = response
            .headers()
            .get(DPOP_NONCE)
            .and_then(|v| v.to_str().ok())
            .and_then(switchboard_identity::dpop::nonce_of);
        let Some(nonce) = given else {
            return false;
        };
        *self.dpop_nonce.lock() = Some(nonce.to_owned());
        response.status() == StatusCode::UNAUTHORIZED
            && response
                .headers()
                .get_all(reqwest::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(Challenge::asks_dpop_nonce)
    }

    /// The headers of every exchange: the spec's, then ours over them.
    fn headers(&self, method: &str, accept: &'static str) -> HeaderMap {
        let mut headers = self.own_headers(method);
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        if let Some(session) = self.session.get() {
            headers.insert(SESSION, session.clone());
        }
        if let Some(version) = self.version.get() {
            headers.insert(VERSION, version.clone());
        }
        headers
    }

    /// POST one JSON-RPC message; the response whatever its status, except
    /// that a 404 once a session exists closes the upstream (the session
    /// expired) and a failure to connect closes it too.
    pub(crate) async fn post(&self, body: String) -> Result<Answer, UpstreamError> {
        self.post_with(body, None).await
    }

    /// Like [`Conn::post`]; with `stateless` headers, a 2026-07-28 request:
    /// sent without the session's headers, with these (`MCP-Protocol-Version`,
    /// `Mcp-Method`…) instead, and a 404 is an answer, not an expiry.
    pub(crate) async fn post_with(
        &self,
        body: String,
        stateless: Option<&HeaderMap>,
    ) -> Result<Answer, UpstreamError> {
        let again = self.uses_dpop().then(|| body.clone());
        let response = self.post_once(body, stateless).await?;
        match again {
            Some(body) if self.nonce_asked(&response) => {
                // Read to the end: the connection may carry the retry.
                let _ = read_capped(response, SHOWN).await;
                self.post_once(body, stateless).await
            }
            _ => Ok(response),
        }
    }

    /// [`Conn::post_with`], once.
    async fn post_once(
        &self,
        body: String,
        stateless: Option<&HeaderMap>,
    ) -> Result<Answer, UpstreamError> {
        let accept = "application/json, text/event-stream";
        let mut headers = match stateless {
            None => self.headers("POST", accept),
            Some(own) => {
                let mut headers = self.own_headers("POST");
                headers.insert(ACCEPT, HeaderValue::from_static(accept));
                headers.extend(own.clone());
                headers
            }
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(tp) = switchboard_telemetry::current_traceparent()
            && let Ok(v) = HeaderValue::from_str(&tp.to_string())
        {
            headers.insert("traceparent", v);
        }
        let response = match &self.h1 {
            Some(pool) => {
                let sent = pool.post(headers, body).await;
                Answer::H1(self.sent_h1(sent, stateless.is_some())?)
            }
            None => {
                let sent = self
                    .client
                    .post(self.url.clone())
                    .headers(headers)
                    .body(body)
                    .send()
                    .await;
                if stateless.is_some() {
                    return self.sent_stateless(sent).map(Answer::from);
                }
                Answer::from(self.sent(sent)?)
            }
        };
        if stateless.is_some() {
            return Ok(response);
        }
        self.unless_expired(response.status())?;
        if self.session.get().is_none()
            && let Some(session) = response.headers().get(SESSION)
        {
            let _ = self.session.set(session.clone());
        }
        Ok(response)
    }

    /// POST a notification or a response: the server should take it with
    /// 202 Accepted.
    pub(crate) async fn post_message(&self, body: String) -> Result<(), UpstreamError> {
        let response = tokio::time::timeout(SMALL_EXCHANGE, self.post(body))
            .await
            .map_err(|_| UpstreamError::Timeout)??;
        if response.status().is_success() {
            return Ok(());
        }
        Err(self.refusal(response).await)
    }

    /// GET the session's event stream, or resume one after `last_event_id`.
    pub(crate) async fn get(&self, last_event_id: Option<&str>) -> Result<Answer, UpstreamError> {
        let response = self.get_once(last_event_id).await?;
        if self.nonce_asked(&response) {
            let _ = read_capped(response, SHOWN).await;
            return self.get_once(last_event_id).await;
        }
        Ok(response)
    }

    /// [`Conn::get`], once.
    async fn get_once(&self, last_event_id: Option<&str>) -> Result<Answer, UpstreamError> {
        let mut headers = self.headers("GET", "text/event-stream");
        if let Some(last) = last_event_id {
            // Without it a resumption would silently open a fresh stream.
            let last = HeaderValue::from_str(last)
                .map_err(|_| UpstreamError::Http("an event id unusable as Last-Event-ID".into()))?;
            headers.insert(LAST_EVENT_ID, last);
        }
        let sent = self
            .client
            .get(self.url.clone())
            .headers(headers)
            .send()
            .await;
        let response = self.sent(sent)?;
        self.unless_expired(response.status())?;
        Ok(Answer::from(response))
    }

    /// DELETE the session, best effort.
    pub(crate) async fn delete(&self) {
        if self.session.get().is_none() {
            return;
        }
        let request = self
            .client
            .delete(self.url.clone())
            .headers(self.headers("DELETE", "application/json, text/event-stream"))
            .timeout(SMALL_EXCHANGE)
            .send();
        match request.await {
            Ok(r) => {
                tracing::debug!(upstream = %self.name, status = %r.status(), "session deleted")
            }
            Err(e) => tracing::debug!(upstream = %self.name, "DELETE failed: {}", describe(&e)),
        }
    }

    fn sent_stateless(&self, sent: reqwest::Result<Response>) -> Result<Response, UpstreamError> {
        match sent {
            Ok(response) => Ok(response),
            Err(e) if e.is_connect() => Err(UpstreamError::Exited(format!(
                "cannot connect to the server: {}",
                describe(&e)
            ))),
            Err(e) => Err(UpstreamError::Http(describe(&e))),
        }
    }

    fn sent(&self, sent: reqwest::Result<Response>) -> Result<Response, UpstreamError> {
        match sent {
            Ok(response) => Ok(response),
            Err(e) if e.is_connect() => {
                let cause = format!("cannot connect to the server: {}", describe(&e));
                Err(self.close(UpstreamError::Exited(cause)))
            }
            Err(e) => Err(UpstreamError::Http(describe(&e))),
        }
    }

    /// A 404 once a session exists: the session expired, and the upstream
    /// closes (whichever client carried the exchange).
    fn unless_expired(&self, status: StatusCode) -> Result<(), UpstreamError> {
        if status == StatusCode::NOT_FOUND && self.session.get().is_some() {
            return Err(self.close(UpstreamError::Exited("session expired".to_owned())));
        }
        Ok(())
    }

    /// As [`Conn::sent`] and [`Conn::sent_stateless`], for our own
    /// HTTP/1.1 connections: a failure to connect closes a session's
    /// upstream.
    fn sent_h1<T>(&self, sent: Result<T, H1Error>, stateless: bool) -> Result<T, UpstreamError> {
        match sent {
            Ok(reply) => Ok(reply),
            Err(H1Error::Connect(e)) => {
                let cause = UpstreamError::Exited(format!("cannot connect to the server: {e}"));
                Err(if stateless { cause } else { self.close(cause) })
            }
            Err(e) => Err(UpstreamError::Http(e.to_string())),
        }
    }

    /// What a non-success status means: a JSON-RPC error if the body is
    /// one, else the status and the start of the body.
    ///
    /// A 401 or 403 is [`UpstreamError::Unauthorized`], with its
    /// `WWW-Authenticate`: the caller's credential was refused.
    pub(crate) async fn refusal(&self, response: Answer) -> UpstreamError {
        let status = response.status();
        let refused = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
        let challenge = refused.then(|| {
            let values: Vec<&str> = response
                .headers()
                .get_all(reqwest::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            values.join(", ")
        });
        let body = read_capped(response, 64 * 1024).await.unwrap_or_default();
        let rpc = match switchboard_proto::parse_message(&body) {
            Ok(switchboard_proto::Message::Response {
                outcome: Err(e), ..
            }) => Some(crate::json::rpc_error(&e)),
            _ => None,
        };
        if refused {
            let detail = match &rpc {
                Some(e) => format!("HTTP {status}: {}", e.message),
                None => format!(
                    "HTTP {status}: {}",
                    truncate(String::from_utf8_lossy(&body).trim(), SHOWN)
                ),
            };
            return UpstreamError::Unauthorized {
                status: status.as_u16(),
                challenge: challenge.filter(|c| !c.is_empty()),
                detail,
            };
        }
        if let Some(e) = rpc {
            return UpstreamError::Rpc(e);
        }
        let text = String::from_utf8_lossy(&body);
        UpstreamError::Http(format!("HTTP {status}: {}", truncate(text.trim(), SHOWN)))
    }
}

/// A body read whole, refused past `max` bytes.
pub(crate) async fn read_capped(
    mut response: Answer,
    max: usize,
) -> Result<Vec<u8>, UpstreamError> {
    let too_large = || UpstreamError::Http(format!("a reply larger than {max} bytes"));
    let length = response.content_length();
    if length.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(length.unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await {
        let chunk = chunk.map_err(UpstreamError::Http)?;
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The media type of a response, lower-cased, without parameters.
pub(crate) fn media_type(response: &Answer) -> String {
    let value = response.headers().get(CONTENT_TYPE);
    let value = value.and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = value.split(';').next().unwrap_or("");
    media.trim().to_ascii_lowercase()
}

/// An HTTP error with its causes, without the URL (it may hold secrets).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" for url ({url})"), "");
        text = text.replace(url.as_str(), "the upstream");
    }
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
