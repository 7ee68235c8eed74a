//! Prompts: named message templates with arguments.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::context::RequestContext;
use crate::error::ToolError;
use crate::tool::BoxFuture;

/// An argument of a prompt.
#[derive(Debug, Clone)]
pub struct PromptArgument {
    /// Its name.
    pub name: String,
    /// What it is, for the user.
    pub description: String,
    /// Whether `prompts/get` must give it.
    pub required: bool,
}

/// The result of `prompts/get`.
#[derive(Debug, Clone, Default)]
pub struct PromptResult {
    /// What the prompt is, if it says.
    pub description: Option<String>,
    /// `{"role", "content"}` messages.
    pub messages: Vec<Value>,
}

impl PromptResult {
    /// A result of these messages, without a description.
    pub fn new(messages: Vec<Value>) -> Self {
        Self {
            description: None,
            messages,
        }
    }

    /// A message of the given role and content block.
    pub fn message(role: &str, content: Value) -> Value {
        json!({"role": role, "content": content})
    }

    pub(crate) fn into_json(self) -> Value {
        let mut out = json!({"messages": self.messages});
        if let Some(d) = self.description {
            out["description"] = json!(d);
        }
        out
    }
}

type Handler = dyn Fn(RequestContext, HashMap<String, String>) -> BoxFuture<Result<PromptResult, ToolError>>
    + Send
    + Sync;

/// A prompt served by the runtime.
#[derive(Clone)]
pub struct Prompt {
    pub(crate) name: String,
    pub(crate) arguments: Vec<PromptArgument>,
    pub(crate) definition: Value,
    pub(crate) handler: Arc<Handler>,
    pub(crate) completions: HashMap<String, Vec<String>>,
}

impl fmt::Debug for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Prompt {
    /// A prompt from its name, description and handler; the handler gets
    /// the arguments given (each as a string). Declare its arguments with
    /// [`Prompt::argument`]: a missing required one is refused before the
    /// handler runs.
    pub fn new<F, Fut>(name: &str, description: &str, handler: F) -> Self
    where
        F: Fn(RequestContext, HashMap<String, String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<PromptResult, ToolError>> + Send + 'static,
    {
        Self {
            name: name.to_owned(),
            arguments: Vec::new(),
            definition: json!({"name": name, "description": description}),
            handler: Arc::new(move |ctx, args| Box::pin(handler(ctx, args))),
            completions: HashMap::new(),
        }
    }

    /// Declare an argument.
    pub fn argument(mut self, name: &str, description: &str, required: bool) -> Self {
        self.arguments.push(PromptArgument {
            name: name.to_owned(),
            description: description.to_owned(),
            required,
        });
        let args: Vec<Value> = self
            .arguments
            .iter()
            .map(|a| json!({"name": a.name, "description": a.description, "required": a.required}))
            .collect();
        self.definition["arguments"] = Value::Array(args);
        self
    }

    /// Values offered by `completion/complete` for an argument.
    pub fn complete(mut self, argument: &str, values: &[&str]) -> Self {
        self.completions.insert(
            argument.to_owned(),
            values.iter().map(|s| s.to_string()).collect(),
        );
        self
    }
}
