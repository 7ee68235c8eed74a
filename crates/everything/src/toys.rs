//! `echo` and a few tools that are pleasant to try by hand.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use switchboard_runtime::{CatalogBuilder, RequestContext, Tool, ToolError, ToolResult};

fn number(args: &Map<String, Value>, name: &str) -> Result<f64, ToolError> {
    args.get(name)
        .and_then(Value::as_f64)
        .ok_or_else(|| ToolError::InvalidArguments(format!("\"{name}\" must be a number")))
}

async fn whoami(ctx: RequestContext, args: Map<String, Value>) -> Result<ToolResult, ToolError> {
    let caller = ctx.caller();
    let nonce = args
        .get("nonce")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let steps = args
        .get("steps")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(20);
    let delay = args
        .get("delay_ms")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(1000);
    let who = json!({
        "tenant": &*caller.tenant,
        "subject": &*caller.subject,
        "session": caller.session.as_deref(),
        "nonce": nonce,
    });
    for step in 1..=steps {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        ctx.progress(step as f64, Some(steps as f64), Some(&who.to_string()))
            .await;
    }
    Ok(ToolResult::text(who.to_string()).with_structured(who))
}

pub(crate) fn register(b: CatalogBuilder) -> CatalogBuilder {
    b.tool(
        Tool::new(
            "echo",
            "Echoes back the message it is given",
            json!({"type": "object", "properties": {"message": {"type": "string", "description": "Text to echo"}}, "required": ["message"]}),
            |_, args| async move {
                match args.get("message").and_then(Value::as_str) {
                    Some(m) => Ok(ToolResult::text(m)),
                    None => Err(ToolError::InvalidArguments("\"message\" must be a string".into())),
                }
            },
        )
        .annotations(json!({"readOnlyHint": true, "idempotentHint": true})),
    )
    .tool(
        Tool::new(
            "add",
            "Adds two numbers",
            json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}),
            |_, args| async move {
                let sum = number(&args, "a")? + number(&args, "b")?;
                Ok(ToolResult::text(sum.to_string()).with_structured(json!({"sum": sum})))
            },
        )
        .output_schema(json!({"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]}))
        .annotations(json!({"readOnlyHint": true, "idempotentHint": true})),
    )
    .tool(Tool::new(
        "sleep",
        "Sleeps for `ms` milliseconds (at most 600000), reporting progress every tenth; cancellable",
        json!({"type": "object", "properties": {"ms": {"type": "integer", "minimum": 0, "maximum": 600000}}, "required": ["ms"]}),
        |ctx: RequestContext, args| async move {
            let ms = number(&args, "ms")?.clamp(0.0, 600_000.0) as u64;
            for step in 1..=10u64 {
                tokio::time::sleep(Duration::from_millis(ms / 10)).await;
                ctx.progress(step as f64 * 10.0, Some(100.0), None).await;
            }
            Ok(ToolResult::text(format!("slept {ms} ms")))
        },
    ))
    .tool(
        Tool::new(
            "whoami",
            "Tells who is calling (tenant, principal, session) and echoes `nonce`; with `steps`, first sends that many progress notifications carrying the same identity, `delay_ms` apart",
            json!({"type": "object", "properties": {
                "nonce": {"type": "string"},
                "steps": {"type": "integer", "minimum": 0, "maximum": 20},
                "delay_ms": {"type": "integer", "minimum": 0, "maximum": 1000}}}),
            whoami,
        )
        .annotations(json!({"readOnlyHint": true})),
    )
    .tool(Tool::new(
        "now",
        "The server's current time, in Unix milliseconds and RFC 3339 (UTC)",
        json!({"type": "object", "properties": {}}),
        |_, _| async move {
            let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
            Ok(ToolResult::text(rfc3339(ms)).with_structured(json!({"unixMs": ms, "utc": rfc3339(ms)})))
        },
    ))
}

/// Format Unix milliseconds as an RFC 3339 UTC timestamp.
fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(super::rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
