//! [`SpanLayer`]: trace and span ids for the spans of [`TARGET`], their
//! attributes and times, each finished span handed to the exporter's buffer.
//! Until [`crate::start`] runs it records nothing.

use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::export::{self, Attr, FinishedSpan};
use crate::traceparent::TraceParent;

/// The target of the spans that are traced (`debug` level, so that they
/// cost nothing when neither tracing nor debug logging is on).
pub const TARGET: &str = "switchboard::trace";

/// What a traced span carries while it is open.
#[derive(Debug, Clone)]
pub(crate) struct SpanData {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    flags: u8,
    start: SystemTime,
    attrs: Vec<Attr>,
}

/// The `tracing` layer that records Switchboard's spans for export. Add it
/// to a `tracing_subscriber::registry()`; give it the filter
/// `filter_fn(SpanLayer::wants)` so that it sees only the traced target.
#[derive(Debug, Default, Clone, Copy)]
pub struct SpanLayer;

impl SpanLayer {
    /// Whether a callsite is one of the traced spans.
    pub fn wants(meta: &Metadata<'_>) -> bool {
        meta.is_span() && meta.target() == TARGET && crate::export::enabled()
    }
}

impl<S> tracing_subscriber::Layer<S> for SpanLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !export::enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let parent = span.scope().skip(1).find_map(|s| {
            s.extensions()
                .get::<SpanData>()
                .map(|d| (d.trace_id, d.span_id, d.flags))
        });
        let (trace_id, parent, flags) = match (parent, fields.traceparent) {
            (Some((trace, span, flags)), _) => (trace, Some(span), flags),
            (None, Some(tp)) => (tp.trace_id, Some(tp.span_id), tp.flags),
            (None, None) => (random(), None, 1),
        };
        span.extensions_mut().insert(SpanData {
            trace_id,
            span_id: random(),
            parent,
            flags,
            start: SystemTime::now(),
            attrs: fields.attrs,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        let Some(data) = ext.get_mut::<SpanData>() else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        for (k, v) in fields.attrs {
            data.attrs.retain(|(old, _)| *old != k);
            data.attrs.push((k, v));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(data) = span.extensions_mut().remove::<SpanData>() else {
            return;
        };
        export::push(FinishedSpan {
            trace_id: data.trace_id,
            span_id: data.span_id,
            parent: data.parent,
            name: span.name(),
            start: data.start,
            end: SystemTime::now(),
            attrs: data.attrs,
        });
    }
}

/// The `traceparent` to send on from the current span (the nearest traced
/// one around it), if tracing is on and there is one.
pub fn current_traceparent() -> Option<TraceParent> {
    if !export::enabled() {
        return None;
    }
    tracing::Span::current().with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let span = registry.span(id)?;
        span.scope().find_map(|s| {
            s.extensions().get::<SpanData>().map(|d| TraceParent {
                trace_id: d.trace_id,
                span_id: d.span_id,
                flags: d.flags,
            })
        })
    })?
}

/// A non-zero random id: SplitMix64 per thread, seeded once from the OS
/// (ids need to be unique, not secret; a syscall per span would cost more
/// than the rest of the span).
fn random<const N: usize>() -> [u8; N] {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    let mut b = [0u8; N];
    loop {
        for chunk in b.chunks_mut(8) {
            let x = STATE.with(|s| {
                let next = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
                s.set(next);
                let mut z = next;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            });
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        if b.iter().any(|&x| x != 0) {
            return b;
        }
    }
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos());
        return nanos as u64 ^ std::process::id() as u64;
    }
    u64::from_le_bytes(b)
}

/// The fields of a span: its `traceparent` (the client's), and the rest as
/// attributes.
#[derive(Default)]
struct Fields {
    traceparent: Option<TraceParent>,
    attrs: Vec<Attr>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "traceparent" {
            self.traceparent = TraceParent::parse(value);
        } else {
            self.attrs
                .push((field.name(), export::Value::Str(value.to_owned())));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attrs.push((field.name(), export::Value::Int(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let v = i64::try_from(value).unwrap_or(i64::MAX);
        self.attrs.push((field.name(), export::Value::Int(v)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attrs.push((field.name(), export::Value::Float(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attrs.push((field.name(), export::Value::Bool(value)));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}
