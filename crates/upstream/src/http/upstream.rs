//! The handle on one HTTP upstream session.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_identity::Credential;
use switchboard_proto::methods;

use super::call::{call, call_with};
use super::conn::Conn;
use super::h1::H1Pool;
use super::{HttpSpec, listen, redacted_url};
use crate::json::{notification_line, to_raw};
use crate::{Downstream, PROTOCOL_VERSION, UpstreamError};

/// How long a new session waits for its event stream to open before its
/// first request.
const STREAM_OPEN_WAIT: Duration = Duration::from_secs(2);

/// The protocol versions with Streamable HTTP a server may answer with.
const HTTP_VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// One MCP session with a server over Streamable HTTP, shared by many
/// callers.
///
/// Dropping the handle stops its event stream and deletes the session in the
/// background (when a runtime is there to do it).
pub struct HttpUpstream {
    conn: Arc<Conn>,
    url: String,
    initialize_result: Box<RawValue>,
    version: String,
    deleted: AtomicBool,
}

/// Header values are never shown: they are credentials.
impl fmt::Debug for HttpUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpUpstream")
            .field("name", &self.conn.name)
            .field("url", &self.url)
            .field("session", &self.conn.session_id().is_some())
            .field("version", &self.version)
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

impl HttpUpstream {
    /// Run the MCP handshake with the server: POST `initialize` (protocol
    /// version [`PROTOCOL_VERSION`], these client capabilities and client
    /// info), remember the `Mcp-Session-Id` and the negotiated version, POST
    /// `notifications/initialized`; then open the session's GET event
    /// stream in a task (a server may refuse it with 405), whose messages go
    /// to `downstream` and which is reopened with `Last-Event-ID` when it
    /// drops (a bounded number of times in a row).
    ///
    /// `client` carries no credentials of a client; the upstream's own are
    /// in `spec.headers`. Fails with [`UpstreamError::Spawn`] for a bad URL
    /// or header and with [`UpstreamError::Init`] if the server cannot be
    /// reached, refuses, answers with a version without Streamable HTTP, or
    /// does not answer within `spec.init_timeout`.
    pub async fn start(
        spec: &HttpSpec,
        client: reqwest::Client,
        capabilities: Value,
        client_info: Value,
        downstream: Arc<dyn Downstream>,
    ) -> Result<Self, UpstreamError> {
        let pool = connections(spec, DEFAULT_IDLE);
        Self::start_on(
            spec,
            client,
            pool,
            capabilities,
            client_info,
            downstream,
            None,
        )
        .await
    }

    /// Like [`HttpUpstream::start`], POSTing on `pool`'s connections when
    /// there is one (an upstream's sessions share it), with `bearer` as
    /// the `Authorization` of the one caller the session is for, if any.
    pub(crate) async fn start_on(
        spec: &HttpSpec,
        client: reqwest::Client,
        pool: Option<Arc<H1Pool>>,
        capabilities: Value,
        client_info: Value,
        downstream: Arc<dyn Downstream>,
        bearer: Option<&Credential>,
    ) -> Result<Self, UpstreamError> {
        let name = &spec.name;
        let url = parse_url(spec)?;
        let headers = header_map(spec)?;
        let conn = Arc::new(Conn::new(
            name.clone(),
            client,
            pool,
            url,
            headers,
            spec.max_body_bytes,
            downstream,
        ));
        if let Some(credential) = bearer {
            conn.set_credential(credential)?;
        }
        if !spec.handshake {
            // Nothing to open: every request will be a stateless one.
            return Ok(Self {
                url: redacted_url(&spec.url),
                conn,
                initialize_result: to_raw(&json!({})),
                version: switchboard_proto::version::MODERN.to_owned(),
                deleted: AtomicBool::new(true),
            });
        }
        let params = to_raw(&json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": capabilities,
            "clientInfo": client_info,
        }));
        let handshake = async {
            let result = call(
                &conn,
                methods::INITIALIZE,
                Some(&params),
                spec.init_timeout,
                false,
            )
            .await?;
            let version = negotiated(&result)?;
            conn.set_version(&version);
            conn.post_message(notification_line(methods::INITIALIZED, None))
                .await?;
            Ok::<_, UpstreamError>((result, version))
        };
        let (initialize_result, version) = match handshake.await {
            Ok(done) => done,
            Err(e) => {
                conn.delete().await;
                conn.close(UpstreamError::Closed);
                return Err(UpstreamError::Init(init_failure(spec, e)));
            }
        };
        let (opened, stream_open) = tokio::sync::oneshot::channel();
        tokio::spawn(listen::listen(Arc::clone(&conn), opened));
        // Bounded: a server slow to answer the GET does not hold the
        // session up for long.
        let _ = tokio::time::timeout(STREAM_OPEN_WAIT, stream_open).await;
        tracing::info!(upstream = %name, %version, "upstream session initialized");
        Ok(Self {
            url: redacted_url(&spec.url),
            conn,
            initialize_result,
            version,
            deleted: AtomicBool::new(false),
        })
    }

    /// Send `credential` with the session's exchanges from now on (a
    /// renewed token of the caller it is for): as `Bearer`, or as `DPoP`
    /// with a fresh proof on each request when it is bound to a key.
    pub fn set_credential(&self, credential: &Credential) -> Result<(), UpstreamError> {
        self.conn.set_credential(credential)
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.conn.name
    }

    /// The `initialize` result (protocolVersion, capabilities, serverInfo,
    /// instructions…) as raw JSON.
    pub fn initialize_result(&self) -> &RawValue {
        &self.initialize_result
    }

    /// The `Mcp-Session-Id` the server gave, if it keeps sessions.
    pub fn session_id(&self) -> Option<&str> {
        self.conn.session_id()
    }

    /// The protocol version the server chose.
    pub fn protocol_version(&self) -> &str {
        &self.version
    }

    /// Send a request and wait up to `timeout` for its answer.
    ///
    /// The id is one of ours. The reply may be JSON or an SSE stream: the
    /// notifications and requests the server sends on it before the
    /// response go to the [`Downstream`] (requests answered by POSTing the
    /// response back); a stream that breaks before the response is resumed
    /// with `Last-Event-ID`. A `_meta.progressToken` in `params` is replaced
    /// by a token unique to the call, and progress notifications get the
    /// original back. If the future is dropped or the timeout passes,
    /// `notifications/cancelled` is POSTed. A 404 once the session exists
    /// means it expired: the upstream is no longer alive and this and later
    /// calls fail with [`UpstreamError::Exited`], as they do when the server
    /// cannot be connected to.
    pub async fn request(
        &self,
        method: &str,
        params: Option<&RawValue>,
        timeout: Duration,
    ) -> Result<Box<RawValue>, UpstreamError> {
        call(&self.conn, method, params, timeout, true).await
    }

    /// Send a 2026-07-28 request outside the session (see
    /// the `stateless` module): `params` carry the client's `_meta`; `schema`
    /// is the called tool's input schema, for its `Mcp-Param-*` headers.
    /// Progress and log notifications on its reply stream go to the
    /// [`Downstream`]; giving up on it drops the connection, which is how a
    /// stateless request is cancelled.
    pub async fn request_stateless(
        &self,
        method: &str,
        params: &Value,
        schema: Option<&Value>,
        timeout: Duration,
    ) -> Result<Box<RawValue>, UpstreamError> {
        let headers = super::stateless::headers(method, params, schema);
        let raw = to_raw(params);
        call_with(
            &self.conn,
            method,
            Some(&raw),
            timeout,
            false,
            Some(&headers),
        )
        .await
    }

    /// POST a notification (e.g. `notifications/roots/list_changed`).
    pub async fn notify(
        &self,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<(), UpstreamError> {
        if let Some(cause) = self.conn.closed() {
            return Err(cause);
        }
        self.conn
            .post_message(notification_line(method, params))
            .await
    }

    /// Whether the session is usable: not killed, not expired, and the
    /// server could be reached last time.
    pub fn is_alive(&self) -> bool {
        self.conn.closed().is_none()
    }

    /// End the session now: calls still waiting fail with
    /// [`UpstreamError::Exited`], the event stream stops, and the session is
    /// DELETEd (best effort, once).
    pub async fn kill(&self) {
        let was_alive = self.is_alive();
        self.conn
            .close(UpstreamError::Exited("the session was ended".to_owned()));
        if was_alive && !self.deleted.swap(true, Ordering::Relaxed) {
            self.conn.delete().await;
        }
    }
}

impl Drop for HttpUpstream {
    fn drop(&mut self) {
        let was_alive = self.is_alive();
        self.conn.close(UpstreamError::Closed);
        if was_alive
            && !self.deleted.swap(true, Ordering::Relaxed)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let conn = Arc::clone(&self.conn);
            runtime.spawn(async move { conn.delete().await });
        }
    }
}

/// Idle connections kept by an upstream started alone
/// ([`HttpUpstream::start`]).
const DEFAULT_IDLE: usize = 16;

/// The pool of our own connections for `spec`'s POSTs, if its URL is one
/// they serve (plain `http://`); at most `max_idle` kept idle.
pub(crate) fn connections(spec: &HttpSpec, max_idle: usize) -> Option<Arc<H1Pool>> {
    H1Pool::for_url(&parse_url(spec).ok()?, max_idle)
}

fn parse_url(spec: &HttpSpec) -> Result<Url, UpstreamError> {
    Url::parse(&spec.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| UpstreamError::Spawn(format!("{}: not an http(s) URL", spec.name)))
}

/// The spec's headers, their values marked sensitive.
fn header_map(spec: &HttpSpec) -> Result<HeaderMap, UpstreamError> {
    let mut headers = HeaderMap::new();
    for (name, value) in &spec.headers {
        let bad = || UpstreamError::Spawn(format!("{}: invalid header {name:?}", spec.name));
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let mut value = HeaderValue::from_str(value).map_err(|_| bad())?;
        value.set_sensitive(true);
        headers.append(header, value);
    }
    Ok(headers)
}

/// The version in an `initialize` result, if it has Streamable HTTP.
fn negotiated(result: &RawValue) -> Result<String, UpstreamError> {
    #[derive(serde::Deserialize)]
    struct Init {
        #[serde(rename = "protocolVersion")]
        protocol_version: String,
    }
    let init: Init = serde_json::from_str(result.get())
        .map_err(|_| UpstreamError::Http("no protocolVersion in the initialize result".into()))?;
    if !HTTP_VERSIONS.contains(&init.protocol_version.as_str()) {
        return Err(UpstreamError::Http(format!(
            "the server chose protocol version {:?}, which this client does not speak",
            crate::json::truncate(&init.protocol_version, 40)
        )));
    }
    Ok(init.protocol_version)
}

fn init_failure(spec: &HttpSpec, error: UpstreamError) -> String {
    let name = &spec.name;
    match error {
        UpstreamError::Timeout => format!(
            "{name}: no answer to initialize within {:?}",
            spec.init_timeout
        ),
        UpstreamError::Rpc(error) => format!("{name}: initialize was refused: {error}"),
        other => format!("{name}: {other}"),
    }
}
