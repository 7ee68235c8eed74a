//! `echo` and a few tools that are pleasant to try by hand.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use switchboard_runtime::{
    CatalogBuilder, RequestContext, Structured, Tool, ToolError, ToolResult,
};

// The arguments of `echo` (no doc comment: it would become the schema's
// description).
#[derive(Deserialize, JsonSchema)]
struct Echo {
    /// Text to echo
    message: String,
}

// The arguments of `add`.
#[derive(Deserialize, JsonSchema)]
struct Add {
    a: f64,
    b: f64,
}

// What `add` answers.
#[derive(Serialize, JsonSchema)]
struct Sum {
    sum: f64,
}

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
        Tool::typed(
            "echo",
            "Echoes back the message it is given",
            |_, Echo { message }: Echo| async move { Ok(message) },
        )
        .annotations(json!({"readOnlyHint": true, "idempotentHint": true})),
    )
    .tool(
        Tool::typed("add", "Adds two numbers", |_, Add { a, b }: Add| async move {
            let sum = a + b;
            Ok(Structured::new(Sum { sum }).text(sum.to_string()))
        })
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

    use std::sync::Arc;

    use serde_json::value::RawValue;
    use serde_json::{Value, json};
    use switchboard_proto::RequestId;
    use switchboard_runtime::{Catalog, ClientPeer, PeerError, RequestContextBuilder, async_trait};

    struct NoClient;

    #[async_trait]
    impl ClientPeer for NoClient {
        async fn notify(&self, _: &str, _: Value) {}
        async fn request(&self, _: &str, _: &str, _: Value) -> Result<Box<RawValue>, PeerError> {
            Err(PeerError::Unsupported("a test"))
        }
    }

    fn catalog() -> Catalog {
        super::register(Catalog::builder())
            .build()
            .expect("catalog")
    }

    async fn call(catalog: &Catalog, name: &str, arguments: Value) -> Value {
        let params = json!({"name": name, "arguments": arguments}).to_string();
        let params = RawValue::from_string(params).expect("JSON");
        let ctx = RequestContextBuilder::new(Arc::new(NoClient), RequestId::from_u64(1));
        let ctx = catalog.context(ctx);
        catalog
            .handle("tools/call", Some(&params), ctx)
            .await
            .expect("a result")
    }

    /// `echo` and `add` are typed tools: their definitions and answers are
    /// what the hand-written ones were (the schemas now say `f64` is a
    /// double), and arguments that do not fit say which.
    #[tokio::test]
    async fn the_typed_tools_answer_as_before() {
        let catalog = catalog();
        let echo = catalog.tool("echo").expect("echo").definition();
        assert_eq!(
            echo["inputSchema"],
            json!({"type": "object", "properties": {"message": {"type": "string", "description": "Text to echo"}}, "required": ["message"]})
        );
        let said = call(&catalog, "echo", json!({"message": "hi"})).await;
        assert_eq!(said, json!({"content": [{"type": "text", "text": "hi"}]}));

        let add = catalog.tool("add").expect("add").definition();
        let number = json!({"type": "number", "format": "double"});
        assert_eq!(
            add["inputSchema"],
            json!({"type": "object", "properties": {"a": number, "b": number}, "required": ["a", "b"]})
        );
        assert_eq!(
            add["outputSchema"],
            json!({"type": "object", "properties": {"sum": number}, "required": ["sum"]})
        );
        let sum = call(&catalog, "add", json!({"a": 2, "b": 40.5})).await;
        assert_eq!(
            sum,
            json!({"content": [{"type": "text", "text": "42.5"}], "structuredContent": {"sum": 42.5}})
        );

        let wrong = call(&catalog, "add", json!({"a": 2, "b": "3"})).await;
        assert_eq!(wrong["isError"], true);
        assert_eq!(
            wrong["content"][0]["text"],
            "invalid arguments: b: invalid type: string \"3\", expected f64"
        );
    }
}
