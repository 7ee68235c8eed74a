//! The `test://…` resources and the resource template.

use serde_json::json;
use switchboard_runtime::{CatalogBuilder, Resource, ResourceContents, ResourceTemplate};

use crate::media::PNG_BASE64;

pub(crate) fn register(b: CatalogBuilder) -> CatalogBuilder {
    b.resource(
        Resource::text(
            "test://static-text",
            "Static Text Resource",
            "text/plain",
            "This is the content of the static text resource.",
        )
        .description("A static text resource for testing"),
    )
    .resource(
        Resource::new(
            "test://static-binary",
            "Static Binary Resource",
            "image/png",
            |_, uri| async move {
                Ok(vec![ResourceContents::Blob {
                    uri,
                    mime_type: "image/png".into(),
                    blob_base64: PNG_BASE64.into(),
                }])
            },
        )
        .description("A static binary resource (image) for testing"),
    )
    .resource(
        Resource::text(
            "test://watched-resource",
            "Watched Resource",
            "text/plain",
            "Watched resource content",
        )
        .description("A resource that can be subscribed to"),
    )
    .template(
        ResourceTemplate::new(
            "test://template/{id}/data",
            "Resource Template",
            "application/json",
            |_, uri, vars| async move {
                let id = vars.get("id").cloned().unwrap_or_default();
                let text =
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
                Ok(vec![ResourceContents::Text {
                    uri,
                    mime_type: "application/json".into(),
                    text: text.to_string(),
                }])
            },
        )
        .description("A resource template with parameter substitution")
        .complete("id", &["1", "2", "3", "42", "123"]),
    )
}
