//! The tools API of Switchboard and the MCP method dispatch behind it.
//!
//! A [`Catalog`] holds tools, resources, resource templates and prompts
//! written in Rust. Their handlers receive a [`RequestContext`] through which
//! they report progress, log, ask the client for sampling, elicitation or
//! roots, observe cancellation and reach shared application state. The
//! context talks to the client through the [`ClientPeer`] trait, which each
//! transport implements: the handler never knows which protocol era or
//! transport carries it.
//!
//! A tool's arguments are best taken as a Rust type: [`Tool::typed`]
//! derives the tool's input schema (and, for a [`Structured`] result, its
//! output schema) from the type, so no JSON Schema is written by hand.
//! [`Tool::new`] takes the arguments as a JSON object and the schema as
//! written, for the rest.
//!
//! ```
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//! use switchboard_runtime::{Catalog, Tool};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct Sleep {
//!     /// How long, in milliseconds.
//!     ms: u64,
//! }
//!
//! let catalog = Catalog::builder()
//!     .tool(Tool::typed("sleep", "Sleeps, reporting progress", |ctx, Sleep { ms }: Sleep| async move {
//!         // A cancelled call is dropped at its next await.
//!         for step in 1..=10 {
//!             tokio::time::sleep(std::time::Duration::from_millis(ms / 10)).await;
//!             ctx.progress(f64::from(step), Some(10.0), None).await;
//!         }
//!         Ok(format!("slept {ms} ms"))
//!     }))
//!     .build()
//!     .expect("unique names");
//! assert_eq!(catalog.tools()[0].definition()["inputSchema"]["required"][0], "ms");
//! ```

#![warn(missing_docs)]

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
mod judge;
mod pending;
mod prompt;
mod provider;
mod resource;
mod search;
mod tool;
mod typed;
mod uri_template;

pub use async_trait::async_trait;
pub use caller::{
    Access, AllowAll, BoxFuture, Caller, DecisionObserver, GuardedCall, Judged, Refusal, Stage,
};
pub use catalog::{Catalog, CatalogBuilder, ServerInfo};
pub use context::{
    ClientPeer, LogFilter, LogLevel, PeerError, RequestContext, RequestContextBuilder,
};
pub use error::{HandlerError, ToolError};
pub use event::ServerEvent;
pub use events::{EventBus, LocalBus, Subscription};
pub use pending::{EventBatch, PENDING_URIS, PendingEvents};
pub use prompt::{Prompt, PromptArgument, PromptResult};
pub use provider::{PinEvent, Provider, ProviderHealth, TokenEvent, UpstreamObserver};
pub use resource::{Resource, ResourceContents, ResourceTemplate};
/// The JSON Schema generator of typed tools ([`Tool::typed`]), re-exported
/// so that its version is the one this crate uses.
pub use schemars;
pub use search::SEARCH_TOOL;
pub use tool::{TaskSupport, Tool, ToolResult};
pub use typed::{Structured, ToolOutput};
pub use uri_template::template_matches;
