//! Test support for Switchboard (dev-only).
//!
//! [`TestServer`] runs the whole server in-process on `127.0.0.1:0` and stops
//! it when dropped; [`McpClient`] speaks raw Streamable HTTP to it, so tests
//! can assert on statuses, headers and exact SSE events; [`RawConn`] is a
//! bare TCP connection for tests of the connection caps; [`StdioClient`]
//! speaks lines to the stdio front run in-process; [`tenant_with_key`] makes
//! a tenant with one API key.

#![warn(missing_docs)]

mod client;
pub mod flood;
mod legacy;
mod modern;
pub mod oauth;
mod raw;
mod server;
mod sse;
mod stdio;
mod tenant;

pub use client::{McpClient, Reply, bearer_client};
pub use legacy::LegacyClient;
pub use modern::{MODERN, ModernClient};
pub use raw::{RawConn, RawReply, sample};
pub use server::TestServer;
pub use sse::{SseEvent, SseReader};
pub use stdio::StdioClient;
pub use tenant::tenant_with_key;
