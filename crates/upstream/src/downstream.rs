//! Where messages an upstream sends on its own go.

use std::fmt::Debug;

use async_trait::async_trait;
use serde_json::value::RawValue;
use switchboard_proto::RpcError;

/// What the gateway does with what an upstream sends that is not an answer
/// to a request.
///
/// Both methods are called from the task reading the upstream's stdout
/// (`notify` inline, to keep notifications in order with the answers that
/// follow them; `request` on a task of its own), so `notify` should hand the
/// message off quickly.
#[async_trait]
pub trait Downstream: Send + Sync + Debug {
    /// A notification (progress with the original `progressToken` restored,
    /// `notifications/message`, `list_changed`, `resources/updated`…), as
    /// the raw method and params.
    ///
    /// `notifications/cancelled` for a request the upstream sent is not
    /// passed on: the pending [`Downstream::request`] future is dropped
    /// instead.
    async fn notify(&self, method: &str, params: Option<&RawValue>);

    /// A request from the upstream to the client (`sampling/createMessage`,
    /// `elicitation/create`, `roots/list`…): the client's result or an error.
    /// `ping` is answered without asking.
    async fn request(
        &self,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<Box<RawValue>, RpcError>;
}
