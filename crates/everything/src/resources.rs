//! The `test://…` resources and the resource template.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use switchboard_runtime::{
    CatalogBuilder, RequestContext, Resource, ResourceContents, ResourceTemplate, ServerEvent,
    Tool, ToolResult,
};

use crate::media::PNG_BASE64;

const WATCHED: &str = "test://watched-resource";

/// The version of the watched resource, shared by every session.
#[derive(Debug, Default)]
struct Watched(AtomicU64);

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
        Resource::new(
            WATCHED,
            "Watched Resource",
            "text/plain",
            |ctx: RequestContext, uri| async move {
                let version = ctx
                    .state::<Watched>()
                    .map_or(0, |w| w.0.load(Ordering::Relaxed));
                Ok(vec![ResourceContents::Text {
                    uri,
                    mime_type: "text/plain".into(),
                    text: format!("Watched resource content (version {version})"),
                }])
            },
        )
        .description("A resource that can be subscribed to; `update_watched_resource` changes it"),
    )
    .state(Arc::new(Watched::default()))
    .tool(Tool::new(
        "update_watched_resource",
        "Changes test://watched-resource; its subscribers get notifications/resources/updated",
        json!({"type": "object", "properties": {}}),
        |ctx: RequestContext, _| async move {
            let version = ctx
                .state::<Watched>()
                .map_or(0, |w| w.0.fetch_add(1, Ordering::Relaxed) + 1);
            ctx.publish(ServerEvent::ResourceUpdated {
                uri: WATCHED.into(),
            });
            Ok(ToolResult::text(format!(
                "test://watched-resource is now at version {version}"
            )))
        },
    ))
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
