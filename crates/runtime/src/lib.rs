//! The tools API of Switchboard and the MCP method dispatch behind it.
//!
//! A [`Catalog`] holds tools, resources, resource templates and prompts
//! written in Rust. Their handlers receive a [`RequestContext`] through which
//! they report progress, log, ask the client for sampling, elicitation or
//! roots, observe cancellation and reach shared application state. The
//! context talks to the client through the [`ClientPeer`] trait, which each
//! transport implements: the handler never knows which protocol era or
//! transport carries it.

mod caller;
mod catalog;
mod completion;
pub mod content;
mod context;
mod cursor;
mod dispatch;
mod error;
mod event;
mod events;
mod pending;
mod prompt;
mod provider;
mod resource;
mod tool;
mod typed;
mod uri_template;

pub use async_trait::async_trait;
pub use caller::{Access, AllowAll, Caller};
pub use catalog::{Catalog, CatalogBuilder, ServerInfo};
pub use context::{
    ClientPeer, LogFilter, LogLevel, PeerError, RequestContext, RequestContextBuilder,
};
pub use error::{HandlerError, ToolError};
pub use event::ServerEvent;
pub use events::{EventBus, LocalBus, Subscription};
pub use pending::{EventBatch, PENDING_URIS, PendingEvents};
pub use prompt::{Prompt, PromptArgument, PromptResult};
pub use provider::{Provider, ProviderHealth, UpstreamObserver};
pub use resource::{Resource, ResourceContents, ResourceTemplate};
/// The JSON Schema generator of typed tools ([`Tool::typed`]), re-exported
/// so that its version is the one this crate uses.
pub use schemars;
pub use tool::{TaskSupport, Tool, ToolResult};
pub use typed::{Structured, ToolOutput};
pub use uri_template::template_matches;
