//! Errors a tool, resource or prompt handler can return.

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
    pub fn failed(msg: impl Into<String>) -> Self {
        Self::Failed(msg.into())
    }
}
