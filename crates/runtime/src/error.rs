//! Errors: what a tool, resource or prompt handler can return
//! ([`ToolError`]), and why a request produced no result ([`HandlerError`]).

use switchboard_proto::RpcError;

use crate::context::PeerError;

/// What a handler can fail with. Tool execution failures become results with
/// `isError: true` (so a model can read them); protocol failures become
/// JSON-RPC errors.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not fit the tool: reported as a tool error result.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    /// The tool ran and failed: reported as a tool error result.
    #[error("{0}")]
    Failed(String),
    /// A request to the client failed.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// A protocol-level error, answered as a JSON-RPC error.
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

impl ToolError {
    /// The tool ran and failed, saying `msg` (an `isError` result).
    pub fn failed(msg: impl Into<String>) -> Self {
        Self::Failed(msg.into())
    }
}

/// Why a request produced no result.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Answer with this JSON-RPC error.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The request was cancelled: no response is owed.
    #[error("the request was cancelled")]
    Cancelled,
    /// The handler needs input the client must send with a retry; the
    /// transport's peer knows which (2026-07-28 `input_required`).
    #[error("input required")]
    InputRequired,
    /// The request needs a client capability it did not declare
    /// (stateless requests: 400 with -32021).
    #[error("the client does not support {0}")]
    MissingCapability(&'static str),
    /// The tool asked to continue as a task (`RequestContext::start_task`).
    #[error("the call continues as a task")]
    StartTask,
}
