//! Fixtures of the tasks extension's conformance scenarios (SEP-2663):
//! a sync tool, and tools whose calls run as tasks — slow, failing,
//! protocol-failing, asking for input while they run, and gathering input
//! before they become a task.

use std::time::Duration;

use serde_json::{Map, Value, json};
use switchboard_proto::RpcError;
use switchboard_runtime::{
    CatalogBuilder, RequestContext, TaskSupport, Tool, ToolError, ToolResult,
};

/// The longest `slow_compute` sleeps.
const MAX_SECONDS: f64 = 600.0;

fn confirm_form(message: &str) -> Value {
    json!({
        "message": message,
        "requestedSchema": {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}
    })
}

fn name_form() -> Value {
    json!({
        "message": "What is your name?",
        "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    })
}

fn accepted(answer: &Value) -> bool {
    answer["action"].as_str() == Some("accept")
}

pub(crate) fn register(b: CatalogBuilder) -> CatalogBuilder {
    let b = b
        .tool(Tool::new(
            "greet",
            "Greets someone (never a task)",
            json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}),
            |_, args: Map<String, Value>| async move {
                let name = args.get("name").and_then(Value::as_str).unwrap_or("World");
                Ok(ToolResult::text(format!("Hello, {name}!")))
            },
        ))
        .tool(
            Tool::new(
                "slow_compute",
                "Sleeps `seconds` then answers; a task when the client accepts tasks",
                json!({"type": "object", "properties": {
                    "seconds": {"type": "number", "minimum": 0},
                    "label": {"type": "string"}}}),
                |_, args: Map<String, Value>| async move {
                    let secs = args.get("seconds").and_then(Value::as_f64).unwrap_or(1.0);
                    let label = args.get("label").and_then(Value::as_str).unwrap_or("compute");
                    tokio::time::sleep(Duration::from_secs_f64(secs.clamp(0.0, MAX_SECONDS))).await;
                    Ok(ToolResult::text(format!("{label}: done after {secs} s")))
                },
            )
            .task_support(TaskSupport::Optional),
        )
        .tool(
            Tool::new(
                "failing_job",
                "Fails with a tool error after a second; only as a task",
                json!({"type": "object", "properties": {}}),
                |_, _| async {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    Ok(ToolResult::error("failing_job failed, as it always does"))
                },
            )
            .task_support(TaskSupport::Required),
        )
        .tool(
            Tool::new(
                "protocol_error_job",
                "Fails with a protocol error (a failed task)",
                json!({"type": "object", "properties": {}}),
                |_, _| async {
                    Err(ToolError::Rpc(RpcError::internal(
                        "protocol_error_job: internal failure",
                    )))
                },
            )
            .task_support(TaskSupport::Optional),
        );
    input_tools(b)
}

fn input_tools(b: CatalogBuilder) -> CatalogBuilder {
    b.tool(
        Tool::new(
            "confirm_delete",
            "Asks the user to confirm deleting `filename` (input key confirm)",
            json!({"type": "object", "properties": {"filename": {"type": "string"}}}),
            |ctx: RequestContext, args: Map<String, Value>| async move {
                let file = args
                    .get("filename")
                    .and_then(Value::as_str)
                    .unwrap_or("file");
                let answer = ctx
                    .elicit_as("confirm", confirm_form(&format!("Delete {file}?")))
                    .await?;
                Ok(ToolResult::text(if accepted(&answer) {
                    format!("Deleted {file}.")
                } else {
                    format!("Kept {file}.")
                }))
            },
        )
        .task_support(TaskSupport::Optional),
    )
    .tool(
        Tool::new(
            "multi_input",
            "Asks two questions at once (input keys name and confirm)",
            json!({"type": "object", "properties": {}}),
            |ctx: RequestContext, _| async move {
                let (name, confirm) = tokio::join!(
                    ctx.elicit_as("name", name_form()),
                    ctx.elicit_as("confirm", confirm_form("Proceed?")),
                );
                let (name, confirm) = (name?, confirm?);
                Ok(ToolResult::text(format!(
                    "name={} confirmed={}",
                    name["content"]["name"].as_str().unwrap_or("?"),
                    accepted(&confirm)
                )))
            },
        )
        .task_support(TaskSupport::Optional),
    )
    .tool(
        Tool::new(
            "test_tool_with_task",
            "Asks the user's name in the call (input key user_name), then continues as a task",
            json!({"type": "object", "properties": {}}),
            |ctx: RequestContext, _| async move {
                let answer = ctx.elicit_as("user_name", name_form()).await?;
                ctx.start_task().await?;
                tokio::time::sleep(Duration::from_millis(500)).await;
                let name = answer["content"]["name"].as_str().unwrap_or("stranger");
                Ok(ToolResult::text(format!("Hello, {name}!")))
            },
        )
        .task_support(TaskSupport::Required)
        .starts_task_itself(),
    )
}
