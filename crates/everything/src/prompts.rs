//! The `test_*` prompts.

use serde_json::json;
use switchboard_runtime::{CatalogBuilder, Prompt, PromptResult, ToolError, content};

use crate::media::PNG_BASE64;

pub(crate) fn register(b: CatalogBuilder) -> CatalogBuilder {
    b.prompt(Prompt::new("test_simple_prompt", "A simple prompt without arguments", |_, _| async {
        Ok(PromptResult::new(vec![PromptResult::message(
            "user",
            content::text("This is a simple prompt for testing."),
        )]))
    }))
    .prompt(
        Prompt::new("test_prompt_with_arguments", "A prompt with required arguments", |_, args| async move {
            let a1 = args.get("arg1").map(String::as_str).unwrap_or_default();
            let a2 = args.get("arg2").map(String::as_str).unwrap_or_default();
            Ok(PromptResult::new(vec![PromptResult::message(
                "user",
                content::text(format!("Prompt with arguments: arg1='{a1}', arg2='{a2}'")),
            )]))
        })
        .argument("arg1", "First test argument", true)
        .argument("arg2", "Second test argument", true)
        .complete("arg1", &["paris", "park", "parrot", "london", "lisbon"])
        .complete("arg2", &["alpha", "beta", "gamma"]),
    )
    .prompt(
        Prompt::new(
            "test_prompt_with_embedded_resource",
            "A prompt that embeds a resource",
            |_, args| async move {
                let uri = args
                    .get("resourceUri")
                    .ok_or_else(|| ToolError::InvalidArguments("resourceUri is required".into()))?;
                Ok(PromptResult::new(vec![
                    PromptResult::message(
                        "user",
                        json!({"type": "resource", "resource": {"uri": uri, "mimeType": "text/plain", "text": "Embedded resource content for testing."}}),
                    ),
                    PromptResult::message("user", content::text("Please process the embedded resource above.")),
                ]))
            },
        )
        .argument("resourceUri", "URI of the resource to embed", true),
    )
    .prompt(Prompt::new("test_prompt_with_image", "A prompt that includes an image", |_, _| async {
        Ok(PromptResult::new(vec![
            PromptResult::message("user", content::image(PNG_BASE64, "image/png")),
            PromptResult::message("user", content::text("Please analyze the image above.")),
        ]))
    }))
}
