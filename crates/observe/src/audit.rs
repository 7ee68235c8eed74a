//! The audit trail: one JSON line per tool call and per security event
//! (authentication failure, forbidden tool, session-binding violation, rate
//! limit, quota). Lines are handed to a writer thread through a bounded
//! queue, so a slow disk never slows a request; lines that do not fit are
//! counted and dropped. Secrets never reach it: credentials are not passed
//! in, and session ids are shortened.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use serde::Serialize;

/// Lines waiting for the writer at most.
const QUEUE: usize = 16 * 1024;

/// One audited event. Every field but `event` and `outcome` is left out of
/// the line when absent.
#[derive(Debug, Default, Serialize)]
pub struct AuditEvent<'a> {
    /// `tool_call`, `auth_failure`, `forbidden_tool`, `session_binding`,
    /// `rate_limited`, `quota`, `upstream_credential`.
    pub event: &'a str,
    /// The tenant of the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<&'a str>,
    /// Who sent it: an API key's id, a JWT's subject (never a credential).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<&'a str>,
    /// The session, shortened (see [`crate::ids::short`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<&'a str>,
    /// The JSON-RPC method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'a str>,
    /// The tool called.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<&'a str>,
    /// The upstream concerned (a credential had for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<&'a str>,
    /// How it ended: `ok`, `error`, `denied`, …
    pub outcome: &'a str,
    /// How long it took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The client's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<&'a str>,
    /// What else there is to say (the reason of a refusal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    #[serde(flatten)]
    event: &'a AuditEvent<'a>,
}

/// Where audit lines go.
#[derive(Debug)]
pub struct Audit {
    tx: Option<SyncSender<String>>,
    dropped: AtomicU64,
}

impl Audit {
    /// An audit trail writing to `sink`: `off` (or empty), `stdout`,
    /// `stderr`, or a file path (appended to).
    pub fn open(sink: &str) -> std::io::Result<Self> {
        let out: Box<dyn Write + Send> = match sink {
            "" | "off" => {
                return Ok(Self {
                    tx: None,
                    dropped: AtomicU64::new(0),
                });
            }
            "stdout" => Box::new(std::io::stdout()),
            "stderr" => Box::new(std::io::stderr()),
            path => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
        };
        let (tx, rx) = sync_channel::<String>(QUEUE);
        std::thread::Builder::new()
            .name("switchboard-audit".into())
            .spawn(move || write_lines(rx, out))?;
        Ok(Self {
            tx: Some(tx),
            dropped: AtomicU64::new(0),
        })
    }

    /// Whether lines are written anywhere.
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queue one event; never blocks.
    pub fn record(&self, event: &AuditEvent<'_>) {
        let Some(tx) = &self.tx else { return };
        let line = Line {
            time: rfc3339(std::time::SystemTime::now()),
            event,
        };
        let Ok(text) = serde_json::to_string(&line) else {
            return;
        };
        match tx.try_send(text) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!("audit queue full: dropping audit lines");
                }
            }
        }
    }
}

fn write_lines(rx: std::sync::mpsc::Receiver<String>, mut out: Box<dyn Write + Send>) {
    while let Ok(line) = rx.recv() {
        let _ = writeln!(out, "{line}");
        // Write whatever else is queued, then flush once.
        while let Ok(more) = rx.recv_timeout(Duration::ZERO) {
            let _ = writeln!(out, "{more}");
        }
        let _ = out.flush();
    }
}

/// `t` as RFC 3339 UTC with milliseconds, e.g. `2026-11-25T19:06:28.123Z`.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's
/// algorithm for the proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_utc_times() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_633_588_123);
        assert_eq!(rfc3339(t), "2026-11-25T19:06:28.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn writes_json_lines_to_a_file() {
        let dir = std::env::temp_dir().join(format!("sb-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        let audit = Audit::open(path.to_str().unwrap()).unwrap();
        audit.record(&AuditEvent {
            event: "tool_call",
            tenant: Some("acme"),
            tool: Some("echo"),
            outcome: "ok",
            latency_ms: Some(1.5),
            ..AuditEvent::default()
        });
        drop(audit);
        let mut text = String::new();
        for _ in 0..200 {
            text = std::fs::read_to_string(&path).unwrap_or_default();
            if !text.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["event"], "tool_call");
        assert_eq!(v["tenant"], "acme");
        assert_eq!(v["latency_ms"], 1.5);
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        std::fs::remove_dir_all(&dir).ok();
    }
}
