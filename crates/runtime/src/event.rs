//! [`ServerEvent`]: something that changed on the server side, which
//! becomes a notification to the clients that follow it.

use serde_json::{Value, json};

/// Something changed on the server side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerEvent {
    /// The resource at `uri` changed (`notifications/resources/updated`).
    ResourceUpdated {
        /// The resource's URI.
        uri: String,
    },
    /// The tools changed (`notifications/tools/list_changed`).
    ToolsListChanged,
    /// The prompts changed (`notifications/prompts/list_changed`).
    PromptsListChanged,
    /// The resources changed (`notifications/resources/list_changed`).
    ResourcesListChanged,
}

impl ServerEvent {
    /// The notification method this event becomes.
    pub fn method(&self) -> &'static str {
        use switchboard_proto::methods::*;
        match self {
            Self::ResourceUpdated { .. } => RESOURCES_UPDATED,
            Self::ToolsListChanged => TOOLS_LIST_CHANGED,
            Self::PromptsListChanged => PROMPTS_LIST_CHANGED,
            Self::ResourcesListChanged => RESOURCES_LIST_CHANGED,
        }
    }

    /// The notification's params: the URI of a resource update, else none.
    pub fn params(&self) -> Value {
        match self {
            Self::ResourceUpdated { uri } => json!({"uri": uri}),
            _ => json!({}),
        }
    }
}
