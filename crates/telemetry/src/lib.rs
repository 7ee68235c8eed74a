//! Traces for Switchboard without the OpenTelemetry SDK: W3C `traceparent`
//! ([`TraceParent`]), a `tracing` layer ([`SpanLayer`]) that gives the spans
//! of the `switchboard::trace` target trace and span ids and hands each
//! finished one to a bounded buffer (full: dropped and counted, never a
//! wait), and an exporter task ([`start`]) that posts them in batches as
//! OTLP/HTTP JSON to `{endpoint}/v1/traces`.
//!
//! A request's root span carries the client's header in a `traceparent`
//! field; [`current_traceparent`] gives the header to send to an upstream
//! from inside any span of the tree.

#![warn(missing_docs)]

mod export;
mod layer;
mod traceparent;

pub use export::{ExportStats, start, stats};
pub use layer::{SpanLayer, TARGET, current_traceparent};
pub use traceparent::TraceParent;
