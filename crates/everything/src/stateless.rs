//! Fixtures of the 2026-07-28 conformance scenarios: diagnostics of the
//! stateless transport, list-change triggers, mirrored headers, and the
//! `input_required` (multi round-trip) tools and prompt. Each works in
//! both eras: in a session the same calls become requests on the stream.

use serde_json::{Map, Value, json};
use switchboard_runtime::{
    CatalogBuilder, LogLevel, Prompt, PromptResult, RequestContext, ServerEvent, Tool, ToolError,
    ToolResult, content,
};

fn no_args() -> Value {
    json!({"type": "object", "properties": {}})
}

fn form(message: &str, field: &str, kind: &str) -> Value {
    json!({
        "message": message,
        "requestedSchema": {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    })
}

fn question(text: &str, max_tokens: u32) -> Value {
    json!({"messages": [{"role": "user", "content": {"type": "text", "text": text}}], "maxTokens": max_tokens})
}

/// The accepted value of one field of an elicitation answer.
fn accepted(answer: &Value, field: &str) -> Result<Value, ToolError> {
    match answer["action"].as_str() {
        Some("accept") => Ok(answer["content"][field].clone()),
        other => Err(ToolError::failed(format!(
            "the user did not accept (action {other:?})"
        ))),
    }
}

fn text_of(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| value.to_string())
}

pub(crate) fn register(b: CatalogBuilder) -> CatalogBuilder {
    let b = diagnostics(b);
    let b = input_required(b);
    b.prompt(Prompt::new(
        "test_input_required_result_prompt",
        "A prompt that needs context from the user before it can be rendered",
        |ctx: RequestContext, _| async move {
            let answer = ctx
                .elicit_as(
                    "user_context",
                    form("What context should the prompt use?", "context", "string"),
                )
                .await?;
            let context = text_of(&accepted(&answer, "context")?);
            Ok(PromptResult::new(vec![PromptResult::message(
                "user",
                content::text(format!("Use the following context: {context}")),
            )]))
        },
    ))
}

fn diagnostics(b: CatalogBuilder) -> CatalogBuilder {
    b.tool(
        Tool::new("test_missing_capability", "Needs the client's sampling capability", no_args(), |_, _| async {
            Ok(ToolResult::text("The client declared sampling."))
        })
        .requires("sampling"),
    )
    .tool(Tool::new(
        "test_streaming_elicitation",
        "Asks the user for a name while it runs",
        no_args(),
        |ctx: RequestContext, _| async move {
            let answer = ctx.elicit(form("What is your name?", "name", "string")).await?;
            Ok(ToolResult::text(format!("Hello, {}!", text_of(&accepted(&answer, "name")?))))
        },
    ))
    .tool(Tool::new(
        "test_logging_tool",
        "Logs three messages (sent only to clients that asked for a log level)",
        no_args(),
        |ctx: RequestContext, _| async move {
            for msg in ["logging tool started", "logging tool working", "logging tool done"] {
                ctx.log(LogLevel::Info, Some("test_logging_tool"), json!(msg)).await;
            }
            Ok(ToolResult::text("Logging tool finished"))
        },
    ))
    .tool(Tool::new(
        "test_trigger_tool_change",
        "Announces a change of the tool list to every listener",
        no_args(),
        |ctx: RequestContext, _| async move {
            ctx.publish(ServerEvent::ToolsListChanged);
            Ok(ToolResult::text("tool list changed"))
        },
    ))
    .tool(Tool::new(
        "test_trigger_prompt_change",
        "Announces a change of the prompt list to every listener",
        no_args(),
        |ctx: RequestContext, _| async move {
            ctx.publish(ServerEvent::PromptsListChanged);
            Ok(ToolResult::text("prompt list changed"))
        },
    ))
    .tool(Tool::new(
        "test_x_mcp_header",
        "Its `region` argument is mirrored in the Mcp-Param-Region header (SEP-2243)",
        json!({"type": "object", "properties": {"region": {
            "type": "string", "description": "Mirrored into the Mcp-Param-Region header", "x-mcp-header": "Region"}}}),
        |_, args: Map<String, Value>| async move {
            Ok(ToolResult::text(format!("region={}", args.get("region").map_or("<none>".into(), text_of))))
        },
    ))
}

fn input_required(b: CatalogBuilder) -> CatalogBuilder {
    b.tool(Tool::new(
        "test_input_required_result_elicitation",
        "Asks the user's name (input key user_name)",
        no_args(),
        |ctx: RequestContext, _| async move {
            let answer = ctx
                .elicit_as("user_name", form("What is your name?", "name", "string"))
                .await?;
            Ok(ToolResult::text(format!(
                "Hello, {}!",
                text_of(&accepted(&answer, "name")?)
            )))
        },
    ))
    .tool(Tool::new(
        "test_input_required_result_sampling",
        "Asks the client's model a question (input key capital_question)",
        no_args(),
        |ctx: RequestContext, _| async move {
            let reply = ctx
                .create_message_as(
                    "capital_question",
                    question("What is the capital of France?", 100),
                )
                .await?;
            Ok(ToolResult::text(format!(
                "Model said: {}",
                text_of(&reply["content"]["text"])
            )))
        },
    ))
    .tool(Tool::new(
        "test_input_required_result_list_roots",
        "Asks the client for its roots (input key client_roots)",
        no_args(),
        |ctx: RequestContext, _| async move {
            let roots = ctx.list_roots_as("client_roots").await?;
            let n = roots["roots"].as_array().map_or(0, Vec::len);
            Ok(ToolResult::text(format!("Client exposed {n} root(s).")))
        },
    ))
    .tool(Tool::new(
        "test_input_required_result_request_state",
        "Asks for a confirmation; the answer comes back with the sealed request state",
        no_args(),
        |ctx: RequestContext, _| async move {
            let answer = ctx
                .elicit_as("confirm", form("Please confirm", "ok", "boolean"))
                .await?;
            accepted(&answer, "ok")?;
            Ok(ToolResult::text("state-ok: confirmation received"))
        },
    ))
    .tool(Tool::new(
        "test_input_required_result_multiple_inputs",
        "Asks for a name, a model greeting and the roots at once",
        no_args(),
        |ctx: RequestContext, _| async move {
            let (name, greeting, roots) = tokio::join!(
                ctx.elicit_as("user_name", form("What is your name?", "name", "string")),
                ctx.create_message_as("greeting", question("Generate a greeting", 50)),
                ctx.list_roots_as("client_roots"),
            );
            let (name, greeting, roots) = (name?, greeting?, roots?);
            Ok(ToolResult::text(format!(
                "All inputs received: {} / {} / {} root(s).",
                text_of(&accepted(&name, "name")?),
                text_of(&greeting["content"]["text"]),
                roots["roots"].as_array().map_or(0, Vec::len)
            )))
        },
    ))
    .tool(Tool::new(
        "test_input_required_result_multi_round",
        "Asks two questions, one round after the other",
        no_args(),
        |ctx: RequestContext, _| async move {
            let name = ctx
                .elicit_as(
                    "step1",
                    form("Step 1: What is your name?", "name", "string"),
                )
                .await?;
            let name = text_of(&accepted(&name, "name")?);
            let color = ctx
                .elicit_as(
                    "step2",
                    form("Step 2: What is your favorite color?", "color", "string"),
                )
                .await?;
            Ok(ToolResult::text(format!(
                "{name} likes {}.",
                text_of(&accepted(&color, "color")?)
            )))
        },
    ))
    .tool(Tool::new(
        "test_input_required_result_tampered_state",
        "Asks for a confirmation; a retry with a tampered request state is refused",
        no_args(),
        |ctx: RequestContext, _| async move {
            let answer = ctx
                .elicit_as("confirm", form("Please confirm", "ok", "boolean"))
                .await?;
            accepted(&answer, "ok")?;
            Ok(ToolResult::text("confirmed"))
        },
    ))
    .tool(Tool::new(
        "test_input_required_result_capabilities",
        "Asks only for what the client declared: elicitation, else sampling",
        no_args(),
        |ctx: RequestContext, _| async move {
            if ctx.client_supports("elicitation") {
                let answer = ctx
                    .elicit_as("user_name", form("What is your name?", "name", "string"))
                    .await?;
                Ok(ToolResult::text(format!(
                    "Hello, {}!",
                    text_of(&accepted(&answer, "name")?)
                )))
            } else if ctx.client_supports("sampling") {
                let reply = ctx
                    .create_message_as("sample", question("Say hello", 50))
                    .await?;
                Ok(ToolResult::text(format!(
                    "Model said: {}",
                    text_of(&reply["content"]["text"])
                )))
            } else {
                Ok(ToolResult::text("The client can answer no input request."))
            }
        },
    ))
}
