//! Why a call to an upstream failed.

use switchboard_proto::RpcError;

/// What can go wrong talking to an upstream.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpstreamError {
    /// The process could not be started.
    #[error("could not start upstream: {0}")]
    Spawn(String),
    /// The process started but did not complete `initialize`.
    #[error("upstream initialization failed: {0}")]
    Init(String),
    /// The process died (the text is its exit status), or an HTTP
    /// upstream's session is gone (expired, deleted, or the server cannot
    /// be reached; the text says which).
    #[error("upstream process exited ({0})")]
    Exited(String),
    /// No answer within the caller's timeout (the call was cancelled upstream).
    #[error("upstream did not answer in time")]
    Timeout,
    /// The upstream answered with a JSON-RPC error.
    #[error("upstream error: {0}")]
    Rpc(RpcError),
    /// The process was killed for writing garbage; the text says what.
    #[error("upstream cut off: {0}")]
    Misbehaving(String),
    /// The connection to the process is gone for another reason.
    #[error("upstream connection closed")]
    Closed,
    /// An HTTP upstream's exchange failed: the request could not be sent,
    /// the server refused it with an HTTP status, or its reply was
    /// malformed or too large. The upstream may still be alive.
    #[error("upstream HTTP exchange failed: {0}")]
    Http(String),
    /// An HTTP upstream refused the credential it was sent (401) or found
    /// it short (403): the status and its `WWW-Authenticate`, which the
    /// caller's identity acts on (a new sign-in, a scope step-up).
    #[error("upstream HTTP exchange failed: {detail}")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// Its `WWW-Authenticate`, if any.
        challenge: Option<String>,
        /// What it said.
        detail: String,
    },
}
