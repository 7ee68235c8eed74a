//! What the examples share: their tools, written with the typed API (a
//! plain answer, a long-running count that reports progress and stops when
//! cancelled, and a tool that asks the client's user for input), and the
//! signal that stops them.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard::{CatalogBuilder, RequestContext, Structured, Tool, ToolError};

#[derive(Deserialize, JsonSchema)]
struct Greet {
    /// Whom to greet.
    name: String,
}

#[derive(Deserialize, JsonSchema)]
struct Count {
    /// Count from 1 to this (at most 100).
    to: u32,
    /// Pause between two numbers, in milliseconds (at most 10 000).
    #[serde(default)]
    pause_ms: u64,
}

#[derive(Serialize, JsonSchema)]
struct Counted {
    /// The last number reached.
    counted: u32,
}

#[derive(Deserialize, JsonSchema)]
struct AskName {
    /// What to say when asking.
    #[serde(default)]
    question: Option<String>,
}

/// `greet`, `count` and `ask_name`.
pub fn catalog() -> CatalogBuilder {
    CatalogBuilder::new()
        .tool(Tool::typed(
            "greet",
            "Says hello",
            |_, Greet { name }: Greet| async move { Ok(format!("Hello, {name}!")) },
        ))
        .tool(Tool::typed(
            "count",
            "Counts, reporting progress after each number; stops when cancelled",
            count,
        ))
        .tool(Tool::typed(
            "ask_name",
            "Asks the user for their name, then greets them",
            ask_name,
        ))
}

async fn count(ctx: RequestContext, args: Count) -> Result<Structured<Counted>, ToolError> {
    if args.to > 100 || args.pause_ms > 10_000 {
        return Err(ToolError::InvalidArguments(
            "`to` is at most 100 and `pause_ms` at most 10000".into(),
        ));
    }
    for n in 1..=args.to {
        // Cancelled (notifications/cancelled, tasks/cancel, the client
        // gone): the call's future is dropped at its next await; a tool
        // that must tidy up or answer otherwise waits on `ctx.cancelled()`.
        tokio::select! {
            () = ctx.cancelled() => return Err(ToolError::failed(format!("cancelled at {n}"))),
            () = tokio::time::sleep(Duration::from_millis(args.pause_ms)) => {}
        }
        let message = format!("counted {n}");
        ctx.progress(f64::from(n), Some(f64::from(args.to)), Some(&message))
            .await;
    }
    Ok(Structured::new(Counted { counted: args.to }).text(format!("counted to {}", args.to)))
}

async fn ask_name(ctx: RequestContext, args: AskName) -> Result<String, ToolError> {
    let question = args.question.unwrap_or_else(|| "What is your name?".into());
    // In a 2025-11-25 session this is an elicitation/create request on the
    // call's stream; for a 2026-07-28 client, an input_required result that
    // the client answers by calling again (the handler then runs again and
    // finds the answer here).
    let answer = ctx
        .elicit(json!({
            "message": question,
            "requestedSchema": {
                "type": "object",
                "properties": {"name": {"type": "string", "description": "Your name"}},
                "required": ["name"],
            },
        }))
        // `?` as it is: for a 2026-07-28 client the error is what asks.
        .await?;
    match (
        answer["action"].as_str(),
        answer["content"]["name"].as_str(),
    ) {
        (Some("accept"), Some(name)) => Ok(format!("Hello, {name}!")),
        (action, _) => Ok(format!(
            "No name given (the user chose {}).",
            action.unwrap_or("nothing")
        )),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn stop() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
