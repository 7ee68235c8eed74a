//! Wire-level protocol core of Switchboard.
//!
//! This crate knows the shape of JSON-RPC 2.0 messages and the rules of the MCP
//! protocol versions, and nothing about I/O. Messages are parsed lazily: the
//! envelope (`jsonrpc`, `id`, `method`) is read, while `params`, `result` and
//! `error` stay raw JSON text, so whatever is forwarded stays byte-for-byte
//! lossless and cheap to move.

#![warn(missing_docs)]

pub mod envelope;
pub mod error;
pub mod methods;
pub mod params;
pub mod version;

pub use envelope::{
    Incoming, Message, ParseError, RequestId, error_json, input_request, may_hold_key,
    notification_json, parse_body, parse_message, request_json, response_json, result_json,
};
pub use error::{ErrorCode, RpcError};
pub use version::ProtocolVersion;
