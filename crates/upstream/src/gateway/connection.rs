//! One connection to an upstream, whatever carries it: a child process on
//! stdio, or a Streamable HTTP session.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_identity::Credential;

use crate::http::H1Pool;
use crate::{Downstream, HttpSpec, HttpUpstream, StdioSpec, StdioUpstream, UpstreamError};

/// How to start a connection.
#[derive(Debug, Clone)]
pub(crate) enum Starter {
    Stdio(StdioSpec),
    /// The spec, the client, and the pool of our own connections for
    /// POSTs (plain `http://` only), shared by the upstream's sessions.
    Http(HttpSpec, reqwest::Client, Option<Arc<H1Pool>>),
}

impl Starter {
    pub(crate) fn name(&self) -> &str {
        match self {
            Starter::Stdio(s) => &s.name,
            Starter::Http(s, ..) => &s.name,
        }
    }

    /// Start a connection; an HTTP one sends `bearer` as its caller's
    /// token, if given.
    pub(crate) async fn start(
        &self,
        capabilities: Value,
        client_info: Value,
        downstream: Arc<dyn Downstream>,
        bearer: Option<&Credential>,
    ) -> Result<Connection, UpstreamError> {
        Ok(match self {
            Starter::Stdio(spec) => Connection::Stdio(
                StdioUpstream::start(spec, capabilities, client_info, downstream).await?,
            ),
            Starter::Http(spec, client, pool) => Connection::Http(
                HttpUpstream::start_on(
                    spec,
                    client.clone(),
                    pool.clone(),
                    capabilities,
                    client_info,
                    downstream,
                    bearer,
                )
                .await?,
            ),
        })
    }
}

/// A live connection to an upstream.
#[derive(Debug)]
pub(crate) enum Connection {
    Stdio(StdioUpstream),
    Http(HttpUpstream),
}

impl Connection {
    pub(crate) async fn request(
        &self,
        method: &str,
        params: Option<&RawValue>,
        timeout: Duration,
    ) -> Result<Box<RawValue>, UpstreamError> {
        match self {
            Connection::Stdio(u) => u.request(method, params, timeout).await,
            Connection::Http(u) => u.request(method, params, timeout).await,
        }
    }

    /// A 2026-07-28 request, outside any session: `params` carry the
    /// client's `_meta`; `schema` is the called tool's input schema.
    pub(crate) async fn request_stateless(
        &self,
        method: &str,
        params: &Value,
        schema: Option<&Value>,
        timeout: Duration,
    ) -> Result<Box<RawValue>, UpstreamError> {
        match self {
            Connection::Stdio(u) => {
                let raw = crate::json::to_raw(params);
                u.request(method, Some(&raw), timeout).await
            }
            Connection::Http(u) => u.request_stateless(method, params, schema, timeout).await,
        }
    }

    /// Renew the caller's token of an HTTP upstream session.
    pub(crate) fn set_bearer(&self, credential: &Credential) -> Result<(), UpstreamError> {
        match self {
            Connection::Stdio(_) => Ok(()),
            Connection::Http(u) => u.set_credential(credential),
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        match self {
            Connection::Stdio(u) => u.is_alive(),
            Connection::Http(u) => u.is_alive(),
        }
    }

    /// The child's process id (stdio, while it runs).
    pub(crate) fn pid(&self) -> Option<u32> {
        match self {
            Connection::Stdio(u) => u.pid(),
            Connection::Http(_) => None,
        }
    }

    pub(crate) async fn kill(&self) {
        match self {
            Connection::Stdio(u) => u.kill().await,
            Connection::Http(u) => u.kill().await,
        }
    }
}
