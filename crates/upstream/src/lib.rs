//! Upstream MCP servers behind Switchboard.
//!
//! A stdio upstream is a child process speaking newline-delimited JSON-RPC:
//! it runs in its own process group (killed with it), its lines are
//! length-limited, request ids are rewritten so many callers can share one
//! process, and its notifications and requests to the client are handed to
//! whoever the gateway says they belong to.
//!
//! [`StdioUpstream::start`] spawns and initializes one from a [`StdioSpec`];
//! what the process sends on its own goes to a [`Downstream`].
//!
//! An HTTP upstream is an MCP server at a URL, spoken to over Streamable
//! HTTP: [`HttpUpstream::start`] opens a session from an [`HttpSpec`], and
//! the handle has the same surface as a stdio one.

#![warn(missing_docs)]

mod downstream;
mod error;
pub mod gateway;
mod http;
mod json;
mod lines;
mod process;
mod reader;
mod shared;
mod spec;
mod stdio;

pub use downstream::Downstream;
pub use error::UpstreamError;
pub use http::{DEFAULT_MAX_BODY_BYTES, HttpSpec, HttpUpstream};
pub use lines::{BadLine, Lines};
pub use spec::{DEFAULT_INIT_TIMEOUT, DEFAULT_MAX_GARBAGE, DEFAULT_MAX_LINE_BYTES, StdioSpec};
pub use stdio::{PROTOCOL_VERSION, StdioUpstream};
