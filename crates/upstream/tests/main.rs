//! The upstream clients against real servers (stdio child processes, Switchboard
//! in-process, a Python fixture server, raw TCP peers): one module per area,
//! each a file of this directory, built as one test binary (each linked the
//! whole server before).

mod common;
mod http_support;

mod http;
mod http_fake;
mod http_lifecycle;
mod stdio;
mod stdio_failures;
