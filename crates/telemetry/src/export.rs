//! The exporter: finished spans go into a bounded buffer (full: dropped and
//! counted; the request never waits), and one task posts them in batches as
//! OTLP/HTTP JSON (`POST {endpoint}/v1/traces`, the encoding of the OTLP
//! specification: hex ids, nanosecond times as strings).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

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
        let body = encode(&service, &batch);
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

/// The OTLP JSON of a batch (`ExportTraceServiceRequest`), written
/// directly (no intermediate `serde_json::Value` per span).
pub(crate) fn encode(service: &str, spans: &[FinishedSpan]) -> String {
    let mut out = String::with_capacity(256 + spans.len() * 320);
    out.push_str(r#"{"resourceSpans":[{"resource":{"attributes":["#);
    attr(&mut out, "service.name", &Value::Str(service.to_owned()));
    out.push_str(r#"]},"scopeSpans":[{"scope":{"name":"switchboard","version":""#);
    out.push_str(env!("CARGO_PKG_VERSION"));
    out.push_str(r#""},"spans":["#);
    for (i, span) in spans.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        span_json(&mut out, span);
    }
    out.push_str("]}]}]}");
    out
}

fn span_json(out: &mut String, s: &FinishedSpan) {
    use std::fmt::Write;
    let mut kind = 1; // INTERNAL
    let mut error = false;
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
            _ => {}
        }
    }
    let _ = write!(
        out,
        r#"{{"traceId":"{}","spanId":"{}","#,
        hex(&s.trace_id),
        hex(&s.span_id)
    );
    if let Some(p) = s.parent {
        let _ = write!(out, r#""parentSpanId":"{}","#, hex(&p));
    }
    out.push_str(r#""name":"#);
    string(out, s.name);
    let _ = write!(
        out,
        r#","kind":{kind},"startTimeUnixNano":"{}","endTimeUnixNano":"{}","attributes":["#,
        nanos(s.start),
        nanos(s.end)
    );
    let shown = s
        .attrs
        .iter()
        .filter(|(k, _)| *k != "otel.kind" && *k != "error");
    for (i, (k, v)) in shown.enumerate() {
        if i > 0 {
            out.push(',');
        }
        attr(out, k, v);
    }
    out.push_str(if error {
        r#"],"status":{"code":2}}"#
    } else {
        r#"],"status":{}}"#
    });
}

fn attr(out: &mut String, key: &str, v: &Value) {
    use std::fmt::Write;
    out.push_str(r#"{"key":"#);
    string(out, key);
    out.push_str(r#","value":{"#);
    match v {
        Value::Str(s) => {
            out.push_str(r#""stringValue":"#);
            string(out, s);
        }
        Value::Int(i) => {
            let _ = write!(out, r#""intValue":"{i}""#);
        }
        Value::Float(f) if f.is_finite() => {
            let _ = write!(out, r#""doubleValue":{f}"#);
        }
        Value::Float(f) => {
            let _ = write!(out, r#""stringValue":"{f}""#);
        }
        Value::Bool(b) => {
            let _ = write!(out, r#""boolValue":{b}"#);
        }
    }
    out.push_str("}}");
}

/// `s` as a JSON string literal.
fn string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
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
                ("quote", Value::Str("a\"b\\c\n".into())),
                ("ms", Value::Float(1.5)),
                ("error", Value::Bool(true)),
            ],
        };
        let j: serde_json::Value = serde_json::from_str(&encode("svc", &[span])).unwrap();
        let s = &j["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["traceId"], "abababababababababababababababab");
        assert_eq!(s["spanId"], "0101010101010101");
        assert_eq!(s["parentSpanId"], "0202020202020202");
        assert_eq!(s["kind"], 2);
        assert_eq!(s["startTimeUnixNano"], "1000000000");
        assert_eq!(s["endTimeUnixNano"], "1005000000");
        assert_eq!(s["attributes"][0]["key"], "method");
        assert_eq!(s["attributes"][1]["value"]["intValue"], "200");
        assert_eq!(s["attributes"][2]["value"]["stringValue"], "a\"b\\c\n");
        assert_eq!(s["attributes"][3]["value"]["doubleValue"], 1.5);
        assert_eq!(s["attributes"].as_array().unwrap().len(), 4);
        assert_eq!(s["status"]["code"], 2);
        assert_eq!(
            j["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
    }
}
