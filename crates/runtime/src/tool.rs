//! Tools: a name, a description, an input schema and an async handler.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::context::RequestContext;
use crate::error::ToolError;

/// The result of a tool call.
#[derive(Debug, Clone, Default)]
pub struct ToolResult {
    /// Content blocks ([`crate::content`] builds them).
    pub content: Vec<Value>,
    /// The result as a JSON object (`structuredContent`), if the tool has
    /// one.
    pub structured_content: Option<Value>,
    /// Whether the tool failed (`isError`): the model reads why in
    /// `content`.
    pub is_error: bool,
}

impl ToolResult {
    /// A successful result of these content blocks.
    pub fn new(content: Vec<Value>) -> Self {
        Self {
            content,
            ..Self::default()
        }
    }

    /// A successful result of one text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(vec![crate::content::text(text)])
    }

    /// A tool error result of one text block (`isError: true`).
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            content: vec![crate::content::text(text)],
            is_error: true,
            ..Self::default()
        }
    }

    /// The same result with `structuredContent` (a JSON object; see
    /// [`Tool::output_schema`]).
    pub fn with_structured(mut self, value: Value) -> Self {
        self.structured_content = Some(value);
        self
    }

    /// The result as its JSON object.
    pub fn into_json(self) -> Value {
        let mut out = json!({"content": self.content});
        if let Some(s) = self.structured_content {
            out["structuredContent"] = s;
        }
        if self.is_error {
            out["isError"] = json!(true);
        }
        out
    }
}

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Handler = dyn Fn(RequestContext, Map<String, Value>) -> BoxFuture<Result<ToolResult, ToolError>>
    + Send
    + Sync;

/// A tool served by the runtime.
#[derive(Clone)]
pub struct Tool {
    name: String,
    definition: Value,
    handler: Arc<Handler>,
    requires: Vec<&'static str>,
    task_support: TaskSupport,
    starts_task_itself: bool,
}

/// Whether a tool's calls may run as tasks (`execution.taskSupport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskSupport {
    /// Always answered in the call (the default).
    #[default]
    Forbidden,
    /// A task when the client accepts tasks, else answered in the call.
    Optional,
    /// Only as a task: clients that do not accept tasks are refused.
    Required,
}

impl fmt::Debug for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Tool {
    /// A tool from its name, description, JSON Schema of its arguments and
    /// handler. The handler receives the call's `arguments` (an empty object
    /// when the call has none).
    pub fn new<F, Fut>(name: &str, description: &str, input_schema: Value, handler: F) -> Self
    where
        F: Fn(RequestContext, Map<String, Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ToolResult, ToolError>> + Send + 'static,
    {
        Self {
            name: name.to_owned(),
            definition: json!({"name": name, "description": description, "inputSchema": input_schema}),
            handler: Arc::new(move |ctx, args| Box::pin(handler(ctx, args))),
            requires: Vec::new(),
            task_support: TaskSupport::Forbidden,
            starts_task_itself: false,
        }
    }

    /// Let the tool's calls run as tasks. The call becomes a task before
    /// the handler starts, unless [`Tool::starts_task_itself`].
    pub fn task_support(mut self, support: TaskSupport) -> Self {
        self.task_support = support;
        let name = match support {
            TaskSupport::Forbidden => "forbidden",
            TaskSupport::Optional => "optional",
            TaskSupport::Required => "required",
        };
        self.definition["execution"] = json!({"taskSupport": name});
        self
    }

    /// The handler decides when its call becomes a task, by calling
    /// [`RequestContext::start_task`] (e.g. after gathering input).
    pub fn starts_task_itself(mut self) -> Self {
        self.starts_task_itself = true;
        self
    }

    /// Whether the tool's calls may run as tasks.
    pub fn task_support_of(&self) -> TaskSupport {
        self.task_support
    }

    /// Whether the handler calls `start_task` itself.
    pub fn is_self_starting_task(&self) -> bool {
        self.starts_task_itself
    }

    /// Declare a client capability (e.g. `"sampling"`) the tool cannot work
    /// without; calls from clients lacking it are refused before it runs.
    pub fn requires(mut self, capability: &'static str) -> Self {
        self.requires.push(capability);
        self
    }

    /// The client capabilities the tool cannot work without.
    pub fn required_capabilities(&self) -> &[&'static str] {
        &self.requires
    }

    /// Add a human-readable title.
    pub fn title(mut self, title: &str) -> Self {
        self.definition["title"] = json!(title);
        self
    }

    /// Add a JSON Schema for `structuredContent`.
    pub fn output_schema(mut self, schema: Value) -> Self {
        self.definition["outputSchema"] = schema;
        self
    }

    /// Add behaviour hints (`readOnlyHint`, `destructiveHint`, …).
    pub fn annotations(mut self, annotations: Value) -> Self {
        self.definition["annotations"] = annotations;
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tool's entry in `tools/list`.
    pub fn definition(&self) -> &Value {
        &self.definition
    }

    pub(crate) fn call(
        &self,
        ctx: RequestContext,
        args: Map<String, Value>,
    ) -> BoxFuture<Result<ToolResult, ToolError>> {
        (self.handler)(ctx, args)
    }
}
