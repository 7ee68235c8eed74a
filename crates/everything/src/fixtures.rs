//! The tools the MCP conformance suite calls, with the behaviour it checks.

use std::time::Duration;

use serde_json::{Map, Value, json};
use switchboard_runtime::{
    CatalogBuilder, LogLevel, RequestContext, Tool, ToolError, ToolResult, content,
};

use crate::media::{PNG_BASE64, wav_base64};

fn no_args() -> Value {
    json!({"type": "object", "properties": {}})
}

fn string_arg(name: &str, description: &str) -> Value {
    json!({"type": "object", "properties": {name: {"type": "string", "description": description}}, "required": [name]})
}

fn str_arg<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, ToolError> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ToolError::InvalidArguments(format!("\"{name}\" must be a string")))
}

async fn pause() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

pub(crate) fn register(b: CatalogBuilder) -> CatalogBuilder {
    let b = content_tools(b);
    let b = notification_tools(b);
    let b = client_request_tools(b);
    b.tool(Tool::new(
        "test_error_handling",
        "Always fails with a tool error (isError: true)",
        no_args(),
        |_, _| async { Ok(ToolResult::error("This tool intentionally returns an error for testing")) },
    ))
    .tool(Tool::new(
        "json_schema_2020_12_tool",
        "Tool with JSON Schema 2020-12 features",
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "address": {
                    "$anchor": "addressDef",
                    "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
                }
            },
            "properties": {
                "name": {"type": "string"},
                "address": {"$ref": "#/$defs/address"},
                "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                "phone": {"type": "string"},
                "email": {"type": "string"}
            },
            "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
            "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
            "then": {"required": ["phone"]},
            "else": {"required": ["email"]},
            "additionalProperties": false
        }),
        |_, args| async move { Ok(ToolResult::text(format!("JSON Schema 2020-12 tool called with: {}", Value::Object(args)))) },
    ))
}

fn content_tools(b: CatalogBuilder) -> CatalogBuilder {
    b.tool(Tool::new(
        "test_simple_text",
        "Returns a simple text content",
        no_args(),
        |_, _| async {
            Ok(ToolResult::text(
                "This is a simple text response for testing.",
            ))
        },
    ))
    .tool(Tool::new(
        "test_image_content",
        "Returns an image content (PNG)",
        no_args(),
        |_, _| async {
            Ok(ToolResult::new(vec![content::image(
                PNG_BASE64,
                "image/png",
            )]))
        },
    ))
    .tool(Tool::new(
        "test_audio_content",
        "Returns an audio content (WAV)",
        no_args(),
        |_, _| async {
            Ok(ToolResult::new(vec![content::audio(
                wav_base64(),
                "audio/wav",
            )]))
        },
    ))
    .tool(Tool::new(
        "test_embedded_resource",
        "Returns an embedded resource",
        no_args(),
        |_, _| async {
            Ok(ToolResult::new(vec![content::resource_text(
                "test://embedded-resource",
                "text/plain",
                "This is an embedded resource content.",
            )]))
        },
    ))
    .tool(Tool::new(
        "test_multiple_content_types",
        "Returns text, image and resource content together",
        no_args(),
        |_, _| async {
            Ok(ToolResult::new(vec![
                content::text("Multiple content types test:"),
                content::image(PNG_BASE64, "image/png"),
                content::resource_text(
                    "test://mixed-content-resource",
                    "application/json",
                    r#"{"test":"data","value":123}"#,
                ),
            ]))
        },
    ))
}

fn notification_tools(b: CatalogBuilder) -> CatalogBuilder {
    b.tool(Tool::new(
        "test_tool_with_logging",
        "Sends three log notifications while it runs",
        no_args(),
        |ctx: RequestContext, _| async move {
            for msg in [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed",
            ] {
                ctx.log(LogLevel::Info, Some("test_tool_with_logging"), json!(msg))
                    .await;
                pause().await;
            }
            Ok(ToolResult::text("Tool with logging executed successfully"))
        },
    ))
    .tool(Tool::new(
        "test_tool_with_progress",
        "Reports progress 0, 50 and 100 of 100",
        no_args(),
        |ctx: RequestContext, _| async move {
            for p in [0.0, 50.0, 100.0] {
                ctx.progress(p, Some(100.0), Some(&format!("Completed step {p} of 100")))
                    .await;
                pause().await;
            }
            Ok(ToolResult::text("Tool with progress executed successfully"))
        },
    ))
    .tool(Tool::new(
        "test_reconnection",
        "Closes its SSE stream mid-call; the client resumes it to get the result (SSE polling)",
        no_args(),
        |ctx: RequestContext, _| async move {
            ctx.close_stream().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(ToolResult::text("Reconnection test completed successfully"))
        },
    ))
}

fn client_request_tools(b: CatalogBuilder) -> CatalogBuilder {
    b.tool(Tool::new(
        "test_sampling",
        "Asks the client's model to answer a prompt (sampling/createMessage)",
        string_arg("prompt", "The prompt to send to the model"),
        |ctx: RequestContext, args| async move {
            let prompt = str_arg(&args, "prompt")?;
            let reply = ctx
                .create_message(json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
                    "maxTokens": 100
                }))
                .await?;
            let text = reply["content"]["text"].as_str().unwrap_or("").to_owned();
            Ok(ToolResult::text(format!("LLM response: {text}")))
        },
    ))
    .tool(Tool::new(
        "test_elicitation",
        "Asks the user for a username and an email (elicitation/create)",
        string_arg("message", "The message to show the user"),
        |ctx: RequestContext, args| async move {
            let message = str_arg(&args, "message")?;
            let reply = ctx
                .elicit(json!({
                    "message": message,
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string", "description": "User's response"},
                            "email": {"type": "string", "description": "User's email address"}
                        },
                        "required": ["username", "email"]
                    }
                }))
                .await?;
            Ok(elicitation_summary(&reply))
        },
    ))
    .tool(Tool::new(
        "test_elicitation_sep1034_defaults",
        "Elicitation whose schema carries default values (SEP-1034)",
        no_args(),
        |ctx: RequestContext, _| async move {
            let reply = ctx
                .elicit(json!({
                    "message": "Please review and update the form fields with defaults",
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "description": "User name", "default": "John Doe"},
                            "age": {"type": "integer", "description": "User age", "default": 30},
                            "score": {"type": "number", "description": "User score", "default": 95.5},
                            "status": {
                                "type": "string",
                                "description": "User status",
                                "enum": ["active", "inactive", "pending"],
                                "default": "active"
                            },
                            "verified": {"type": "boolean", "description": "Verification status", "default": true}
                        },
                        "required": []
                    }
                }))
                .await?;
            Ok(elicitation_summary(&reply))
        },
    ))
    .tool(Tool::new(
        "test_elicitation_sep1330_enums",
        "Elicitation with every enum form of SEP-1330",
        no_args(),
        |ctx: RequestContext, _| async move {
            let reply = ctx.elicit(sep1330_request()).await?;
            Ok(elicitation_summary(&reply))
        },
    ))
}

fn sep1330_request() -> Value {
    json!({
        "message": "Please select options from the enum fields",
        "requestedSchema": {
            "type": "object",
            "properties": {
                "untitledSingle": {
                    "type": "string",
                    "description": "Select one option",
                    "enum": ["option1", "option2", "option3"]
                },
                "titledSingle": {
                    "type": "string",
                    "description": "Select one option with titles",
                    "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"}
                    ]
                },
                "legacyEnum": {
                    "type": "string",
                    "description": "Select one option (legacy)",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"]
                },
                "untitledMulti": {
                    "type": "array",
                    "description": "Select multiple options",
                    "minItems": 1,
                    "maxItems": 3,
                    "items": {"type": "string", "enum": ["option1", "option2", "option3"]}
                },
                "titledMulti": {
                    "type": "array",
                    "description": "Select multiple options with titles",
                    "minItems": 1,
                    "maxItems": 3,
                    "items": {
                        "anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"}
                        ]
                    }
                }
            },
            "required": []
        }
    })
}

fn elicitation_summary(reply: &Value) -> ToolResult {
    let action = reply["action"].as_str().unwrap_or("unknown");
    let content = reply.get("content").cloned().unwrap_or(Value::Null);
    ToolResult::text(format!(
        "Elicitation completed: action={action}, content={content}"
    ))
}
