//! Test support for Switchboard (dev-only).
//!
//! [`TestServer`] runs the whole server in-process on `127.0.0.1:0` and stops
//! it when dropped; [`McpClient`] speaks raw Streamable HTTP to it, so tests
//! can assert on statuses, headers and exact SSE events.

mod client;
pub mod flood;
mod modern;
mod server;
mod sse;

pub use client::{McpClient, Reply, bearer_client};
pub use modern::{MODERN, ModernClient};
pub use server::TestServer;
pub use sse::{SseEvent, SseReader};
