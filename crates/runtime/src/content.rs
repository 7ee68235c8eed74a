//! Builders for MCP content blocks (`text`, `image`, `audio`, `resource`).

use serde_json::{Value, json};

/// A text content block.
pub fn text(text: impl Into<String>) -> Value {
    json!({"type": "text", "text": text.into()})
}

/// An image content block from base64 data.
pub fn image(data_base64: impl Into<String>, mime_type: &str) -> Value {
    json!({"type": "image", "data": data_base64.into(), "mimeType": mime_type})
}

/// An audio content block from base64 data.
pub fn audio(data_base64: impl Into<String>, mime_type: &str) -> Value {
    json!({"type": "audio", "data": data_base64.into(), "mimeType": mime_type})
}

/// An embedded text resource.
pub fn resource_text(uri: &str, mime_type: &str, text: impl Into<String>) -> Value {
    json!({"type": "resource", "resource": {"uri": uri, "mimeType": mime_type, "text": text.into()}})
}

/// An embedded binary resource.
pub fn resource_blob(uri: &str, mime_type: &str, blob_base64: impl Into<String>) -> Value {
    json!({"type": "resource", "resource": {"uri": uri, "mimeType": mime_type, "blob": blob_base64.into()}})
}

/// Standard base64 of bytes, for `data` and `blob` fields.
pub fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
