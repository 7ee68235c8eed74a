//! Names of the stateless era: the session-era methods it removed,
//! `server/discover`, and the task extension's name and methods.

use switchboard_proto::methods;

/// Methods of the session era that 2026-07-28 removed.
pub const REMOVED: [&str; 6] = [
    methods::INITIALIZE,
    methods::PING,
    methods::SET_LEVEL,
    methods::RESOURCES_SUBSCRIBE,
    methods::RESOURCES_UNSUBSCRIBE,
    "tasks/list",
];

/// `server/discover`.
pub const DISCOVER: &str = "server/discover";

/// The tasks extension, as named in capabilities.
pub const EXTENSION: &str = "io.modelcontextprotocol/tasks";
/// `tasks/get`.
pub const GET: &str = "tasks/get";
/// `tasks/update`.
pub const UPDATE: &str = "tasks/update";
/// `tasks/cancel`.
pub const CANCEL: &str = "tasks/cancel";
