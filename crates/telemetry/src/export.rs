//! The exporter: finished spans go into a bounded buffer (full: dropped and
//! counted; the request never waits), and one task posts them in batches as
//! OTLP/HTTP JSON (`POST {endpoint}/v1/traces`, the encoding of the OTLP
//! specification: hex ids, nanosecond times as strings).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Value as Json, json};
use tokio::sync::mpsc;

use crate::traceparent::hex;

/// Spans waiting for export at most; more are dropped.
const BUFFER: usize = 8192;
/// Spans per POST at most.
const BATCH: usize = 512;
/// How long a batch waits to fill.
const LINGER: Duration = Duration::from_millis(500);

/// An attribute value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

pub(crate) type Attr = (&'static str, Value);

/// A span that has ended.
#[derive(Debug)]
pub(crate) struct FinishedSpan {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    pub(crate) parent: Option<[u8; 8]>,
    pub(crate) name: &'static str,
    pub(crate) start: SystemTime,
    pub(crate) end: SystemTime,
    pub(crate) attrs: Vec<Attr>,
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static SENDER: OnceLock<mpsc::Sender<FinishedSpan>> = OnceLock::new();
static EXPORTED: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static FAILED: AtomicU64 = AtomicU64::new(0);

/// Counts of the exporter since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Spans the collector accepted.
    pub exported: u64,
    /// Spans dropped because the buffer was full.
    pub dropped: u64,
    /// Spans lost to failed POSTs.
    pub failed: u64,
}

/// The exporter's counts.
pub fn stats() -> ExportStats {
    ExportStats {
        exported: EXPORTED.load(Ordering::Relaxed),
        dropped: DROPPED.load(Ordering::Relaxed),
        failed: FAILED.load(Ordering::Relaxed),
    }
}

pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub(crate) fn push(span: FinishedSpan) {
    if let Some(tx) = SENDER.get()
        && tx.try_send(span).is_err()
    {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Start exporting to the OTLP/HTTP collector at `endpoint` (e.g.
/// `http://127.0.0.1:4318`) as `service`, on the current Tokio runtime.
/// Once per process; a second call is an error.
pub fn start(endpoint: &str, service: &str) -> Result<(), String> {
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    reqwest::Url::parse(&url).map_err(|e| format!("otlp_endpoint {endpoint:?}: {e}"))?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel(BUFFER);
    SENDER
        .set(tx)
        .map_err(|_| "the trace exporter is already running".to_owned())?;
    tokio::spawn(run(rx, client, url, service.to_owned()));
    ENABLED.store(true, Ordering::Relaxed);
    // Callsites decided before now are asked again.
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

async fn run(
    mut rx: mpsc::Receiver<FinishedSpan>,
    client: reqwest::Client,
    url: String,
    service: String,
) {
    let mut warned = false;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(span)) => batch.push(span),
                Ok(None) | Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        let body = encode(&service, &batch).to_string();
        let sent = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                EXPORTED.fetch_add(n, Ordering::Relaxed);
            }
            other => {
                FAILED.fetch_add(n, Ordering::Relaxed);
                let why = match other {
                    Ok(r) => format!("HTTP {}", r.status()),
                    Err(e) => e.to_string(),
                };
                if !warned {
                    tracing::warn!("trace export to {url} failed ({why}); {n} spans lost");
                    warned = true;
                } else {
                    tracing::debug!("trace export to {url} failed ({why}); {n} spans lost");
                }
            }
        }
    }
}

/// The OTLP JSON of a batch (`ExportTraceServiceRequest`).
pub(crate) fn encode(service: &str, spans: &[FinishedSpan]) -> Json {
    let spans: Vec<Json> = spans.iter().map(span_json).collect();
    json!({
        "resourceSpans": [{
            "resource": {"attributes": [attr("service.name", &Value::Str(service.to_owned()))]},
            "scopeSpans": [{
                "scope": {"name": "switchboard", "version": env!("CARGO_PKG_VERSION")},
                "spans": spans,
            }],
        }],
    })
}

fn span_json(s: &FinishedSpan) -> Json {
    let mut kind = 1; // INTERNAL
    let mut error = false;
    let mut attributes = Vec::with_capacity(s.attrs.len());
    for (k, v) in &s.attrs {
        match (*k, v) {
            ("otel.kind", Value::Str(x)) => {
                kind = match x.as_str() {
                    "server" => 2,
                    "client" => 3,
                    _ => 1,
                }
            }
            ("error", Value::Bool(true)) => error = true,
            _ => attributes.push(attr(k, v)),
        }
    }
    let mut j = json!({
        "traceId": hex(&s.trace_id),
        "spanId": hex(&s.span_id),
        "name": s.name,
        "kind": kind,
        "startTimeUnixNano": nanos(s.start).to_string(),
        "endTimeUnixNano": nanos(s.end).to_string(),
        "attributes": attributes,
        "status": if error { json!({"code": 2}) } else { json!({}) },
    });
    if let Some(p) = s.parent {
        j["parentSpanId"] = Json::String(hex(&p));
    }
    j
}

fn attr(key: &str, v: &Value) -> Json {
    let value = match v {
        Value::Str(s) => json!({"stringValue": s}),
        Value::Int(i) => json!({"intValue": i.to_string()}),
        Value::Float(f) => json!({"doubleValue": f}),
        Value::Bool(b) => json!({"boolValue": b}),
    };
    json!({"key": key, "value": value})
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_json_shape() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1);
        let span = FinishedSpan {
            trace_id: [0xab; 16],
            span_id: [1; 8],
            parent: Some([2; 8]),
            name: "request",
            start: t,
            end: t + Duration::from_millis(5),
            attrs: vec![
                ("otel.kind", Value::Str("server".into())),
                ("method", Value::Str("tools/call".into())),
                ("status", Value::Int(200)),
            ],
        };
        let j = encode("svc", &[span]);
        let s = &j["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["traceId"], "abababababababababababababababab");
        assert_eq!(s["spanId"], "0101010101010101");
        assert_eq!(s["parentSpanId"], "0202020202020202");
        assert_eq!(s["kind"], 2);
        assert_eq!(s["startTimeUnixNano"], "1000000000");
        assert_eq!(s["endTimeUnixNano"], "1005000000");
        assert_eq!(s["attributes"][0]["key"], "method");
        assert_eq!(s["attributes"][1]["value"]["intValue"], "200");
        assert_eq!(
            j["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
    }
}
