//! Method names of the MCP protocol that the runtime treats specially.

/// The first request of a session: version and capabilities negotiated.
pub const INITIALIZE: &str = "initialize";
/// The client's notification that initialization is done.
pub const INITIALIZED: &str = "notifications/initialized";
/// A liveness check, answered with an empty result.
pub const PING: &str = "ping";
/// A notification that cancels an earlier request.
pub const CANCELLED: &str = "notifications/cancelled";
/// A progress notification for a request that carries a progress token.
pub const PROGRESS: &str = "notifications/progress";
/// A log message notification from the server.
pub const MESSAGE: &str = "notifications/message";
/// The client sets the lowest log level it wants.
pub const SET_LEVEL: &str = "logging/setLevel";
/// List the tools.
pub const TOOLS_LIST: &str = "tools/list";
/// Call a tool.
pub const TOOLS_CALL: &str = "tools/call";
/// List the resources.
pub const RESOURCES_LIST: &str = "resources/list";
/// List the resource templates.
pub const RESOURCES_TEMPLATES_LIST: &str = "resources/templates/list";
/// Read a resource.
pub const RESOURCES_READ: &str = "resources/read";
/// Follow a resource's updates.
pub const RESOURCES_SUBSCRIBE: &str = "resources/subscribe";
/// Stop following a resource's updates.
pub const RESOURCES_UNSUBSCRIBE: &str = "resources/unsubscribe";
/// A followed resource changed.
pub const RESOURCES_UPDATED: &str = "notifications/resources/updated";
/// List the prompts.
pub const PROMPTS_LIST: &str = "prompts/list";
/// Get a prompt's messages.
pub const PROMPTS_GET: &str = "prompts/get";
/// Complete a prompt's or a template's argument.
pub const COMPLETION_COMPLETE: &str = "completion/complete";
/// The list of tools changed.
pub const TOOLS_LIST_CHANGED: &str = "notifications/tools/list_changed";
/// The list of prompts changed.
pub const PROMPTS_LIST_CHANGED: &str = "notifications/prompts/list_changed";
/// The list of resources changed.
pub const RESOURCES_LIST_CHANGED: &str = "notifications/resources/list_changed";
/// The server asks the client's model for a message (sampling).
pub const SAMPLING_CREATE_MESSAGE: &str = "sampling/createMessage";
/// The server asks the client's user for input (elicitation).
pub const ELICITATION_CREATE: &str = "elicitation/create";
/// The server asks the client for its roots.
pub const ROOTS_LIST: &str = "roots/list";
