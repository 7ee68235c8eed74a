//! Resources (fixed URIs) and resource templates (URI patterns).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::context::RequestContext;
use crate::error::ToolError;
use crate::tool::BoxFuture;
use crate::uri_template::UriTemplate;

/// One entry of a `resources/read` result.
#[derive(Debug, Clone)]
pub enum ResourceContents {
    /// Text contents.
    Text {
        /// The URI they were read from.
        uri: String,
        /// Their MIME type.
        mime_type: String,
        /// The text.
        text: String,
    },
    /// Binary contents.
    Blob {
        /// The URI they were read from.
        uri: String,
        /// Their MIME type.
        mime_type: String,
        /// The bytes, base64-encoded ([`crate::content::base64_encode`]).
        blob_base64: String,
    },
}

impl ResourceContents {
    pub(crate) fn into_json(self) -> Value {
        match self {
            Self::Text {
                uri,
                mime_type,
                text,
            } => json!({"uri": uri, "mimeType": mime_type, "text": text}),
            Self::Blob {
                uri,
                mime_type,
                blob_base64,
            } => {
                json!({"uri": uri, "mimeType": mime_type, "blob": blob_base64})
            }
        }
    }
}

type Reader = dyn Fn(
        RequestContext,
        String,
        HashMap<String, String>,
    ) -> BoxFuture<Result<Vec<ResourceContents>, ToolError>>
    + Send
    + Sync;

fn boxed<F, Fut>(reader: F) -> Arc<Reader>
where
    F: Fn(RequestContext, String, HashMap<String, String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<ResourceContents>, ToolError>> + Send + 'static,
{
    Arc::new(move |ctx, uri, vars| Box::pin(reader(ctx, uri, vars)))
}

/// A resource at a fixed URI.
#[derive(Clone)]
pub struct Resource {
    pub(crate) uri: String,
    pub(crate) definition: Value,
    pub(crate) reader: Arc<Reader>,
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl Resource {
    /// A resource at `uri` whose contents `reader` gives (it receives the
    /// URI read).
    pub fn new<F, Fut>(uri: &str, name: &str, mime_type: &str, reader: F) -> Self
    where
        F: Fn(RequestContext, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<ResourceContents>, ToolError>> + Send + 'static,
    {
        Self {
            uri: uri.to_owned(),
            definition: json!({"uri": uri, "name": name, "mimeType": mime_type}),
            reader: boxed(move |ctx, uri, _| reader(ctx, uri)),
        }
    }

    /// A resource whose content is fixed text.
    pub fn text(uri: &str, name: &str, mime_type: &str, text: &str) -> Self {
        let contents = ResourceContents::Text {
            uri: uri.to_owned(),
            mime_type: mime_type.to_owned(),
            text: text.to_owned(),
        };
        Self::new(uri, name, mime_type, move |_, _| {
            let c = contents.clone();
            async move { Ok(vec![c]) }
        })
    }

    /// Add a description.
    pub fn description(mut self, description: &str) -> Self {
        self.definition["description"] = json!(description);
        self
    }
}

/// A family of resources matched by an RFC 6570 URI template.
#[derive(Clone)]
pub struct ResourceTemplate {
    pub(crate) template: UriTemplate,
    pub(crate) definition: Value,
    pub(crate) reader: Arc<Reader>,
    pub(crate) completions: HashMap<String, Vec<String>>,
}

impl fmt::Debug for ResourceTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceTemplate")
            .field("uriTemplate", &self.definition["uriTemplate"])
            .finish_non_exhaustive()
    }
}

impl ResourceTemplate {
    /// The reader receives the URI and the values of the template's variables.
    pub fn new<F, Fut>(uri_template: &str, name: &str, mime_type: &str, reader: F) -> Self
    where
        F: Fn(RequestContext, String, HashMap<String, String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<ResourceContents>, ToolError>> + Send + 'static,
    {
        Self {
            template: UriTemplate::parse(uri_template),
            definition: json!({"uriTemplate": uri_template, "name": name, "mimeType": mime_type}),
            reader: boxed(reader),
            completions: HashMap::new(),
        }
    }

    /// Add a description.
    pub fn description(mut self, description: &str) -> Self {
        self.definition["description"] = json!(description);
        self
    }

    /// Values offered by `completion/complete` for a template variable.
    pub fn complete(mut self, variable: &str, values: &[&str]) -> Self {
        self.completions.insert(
            variable.to_owned(),
            values.iter().map(|s| s.to_string()).collect(),
        );
        self
    }

    pub(crate) fn uri_template(&self) -> &str {
        self.definition["uriTemplate"].as_str().unwrap_or_default()
    }
}
