//! Typed tools: a handler that takes its arguments as a Rust type, whose
//! JSON Schema (draft 2020-12) comes from [`schemars`], so that the common
//! case needs no hand-written schema. What the handler returns decides the
//! result: a [`ToolResult`] as it is, a `String` as one text block, or a
//! [`Structured`] value as `structuredContent` (its schema becoming the
//! tool's `outputSchema`) plus a text block.
//!
//! Arguments that do not deserialize into the type are the tool's error
//! (an `isError` result, as for [`ToolError::InvalidArguments`]), naming the
//! field that failed and why. Arguments that are not an object at all stay a
//! `-32602` error, whatever the tool.

use std::future::Future;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::context::RequestContext;
use crate::error::ToolError;
use crate::tool::{Tool, ToolResult};

/// What a typed tool's handler may return (see [`Tool::typed`]).
///
/// Implemented for [`ToolResult`] (used as it is), `String` (one text
/// block) and [`Structured`] (structured content with an output schema).
///
/// ```
/// use switchboard_runtime::{ToolOutput, ToolResult};
///
/// let text = String::from("hello").into_tool_result().unwrap();
/// assert_eq!(text.content[0]["text"], "hello");
/// assert!(<String as ToolOutput>::output_schema().is_none());
/// assert!(<ToolResult as ToolOutput>::output_schema().is_none());
/// ```
pub trait ToolOutput: Send + 'static {
    /// The JSON Schema of the `structuredContent` this output carries, if
    /// it carries any: it becomes the tool's `outputSchema`.
    fn output_schema() -> Option<Value>;

    /// The call's result.
    fn into_tool_result(self) -> Result<ToolResult, ToolError>;
}

impl ToolOutput for ToolResult {
    fn output_schema() -> Option<Value> {
        None
    }

    fn into_tool_result(self) -> Result<ToolResult, ToolError> {
        Ok(self)
    }
}

impl ToolOutput for String {
    fn output_schema() -> Option<Value> {
        None
    }

    fn into_tool_result(self) -> Result<ToolResult, ToolError> {
        Ok(ToolResult::text(self))
    }
}

/// A typed tool's structured result: the value goes out as
/// `structuredContent`, and as a text block (its JSON, unless
/// [`Structured::text`] gives another text) for clients that read text
/// only. Its type's JSON Schema is the tool's `outputSchema`; the type must
/// serialize to a JSON object (a struct or a map).
///
/// ```
/// use schemars::JsonSchema;
/// use serde::Serialize;
/// use switchboard_runtime::{Structured, ToolOutput};
///
/// #[derive(Serialize, JsonSchema)]
/// struct Sum {
///     sum: f64,
/// }
///
/// let result = Structured::new(Sum { sum: 3.0 }).into_tool_result().unwrap();
/// assert_eq!(result.structured_content.as_ref().unwrap()["sum"], 3.0);
/// assert_eq!(result.content[0]["text"], r#"{"sum":3.0}"#);
///
/// let schema = <Structured<Sum> as ToolOutput>::output_schema().unwrap();
/// assert_eq!(schema["type"], "object");
/// assert_eq!(schema["required"][0], "sum");
/// ```
#[derive(Debug, Clone)]
pub struct Structured<T> {
    value: T,
    text: Option<String>,
}

impl<T> Structured<T> {
    /// `value` as the structured result; its text block is its JSON.
    ///
    /// ```
    /// use switchboard_runtime::{Structured, ToolOutput};
    ///
    /// let map = std::collections::BTreeMap::from([("answer".to_owned(), 42)]);
    /// let result = Structured::new(map).into_tool_result().unwrap();
    /// assert_eq!(result.content[0]["text"], r#"{"answer":42}"#);
    /// ```
    pub fn new(value: T) -> Self {
        Self { value, text: None }
    }

    /// Say `text` in the text block instead of the value's JSON.
    ///
    /// ```
    /// use switchboard_runtime::{Structured, ToolOutput};
    ///
    /// let map = std::collections::BTreeMap::from([("sum".to_owned(), 5)]);
    /// let result = Structured::new(map).text("5").into_tool_result().unwrap();
    /// assert_eq!(result.content[0]["text"], "5");
    /// assert_eq!(result.structured_content.unwrap()["sum"], 5);
    /// ```
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }
}

impl<T: Serialize + JsonSchema + Send + 'static> ToolOutput for Structured<T> {
    fn output_schema() -> Option<Value> {
        Some(
            object_schema::<T>(SchemaSettings::draft2020_12().for_serialize()).unwrap_or_else(
                |shape| panic!("the output type {} {shape}", std::any::type_name::<T>()),
            ),
        )
    }

    fn into_tool_result(self) -> Result<ToolResult, ToolError> {
        let value = serde_json::to_value(&self.value)
            .map_err(|e| ToolError::failed(format!("the result could not be serialized: {e}")))?;
        if !value.is_object() {
            return Err(ToolError::failed(
                "the structured result is not a JSON object",
            ));
        }
        let text = match self.text {
            Some(text) => text,
            None => value.to_string(),
        };
        Ok(ToolResult::text(text).with_structured(value))
    }
}

impl Tool {
    /// A tool whose handler takes its arguments as `A`: the `inputSchema` is
    /// `A`'s JSON Schema (draft 2020-12, generated by [`schemars`]; doc
    /// comments become descriptions), and the call's `arguments` are
    /// deserialized into `A` before the handler runs. Arguments that do not
    /// fit give an `isError` result saying which field is wrong and why; the
    /// handler does not run. Serde does not enforce what only the schema
    /// says (`minimum`, `pattern`…): check it in the handler.
    ///
    /// The handler returns any [`ToolOutput`]: a [`ToolResult`], a `String`,
    /// or a [`Structured`] value, whose type's schema becomes the tool's
    /// `outputSchema`. The other builder methods (`title`, `annotations`,
    /// `task_support`…) apply as to [`Tool::new`].
    ///
    /// The derive macro of [`JsonSchema`] names the `schemars` crate: add
    /// `schemars = "1"` to your dependencies, or point the derive at this
    /// crate's re-export with `#[schemars(crate = "switchboard_runtime::schemars")]`.
    ///
    /// # Panics
    ///
    /// If `A`'s schema (or the output type's) is not an object schema: MCP
    /// wants `type: "object"` at the top, so `A` must be a struct, a map, or
    /// an enum whose every variant is an object (internally or externally
    /// tagged). This happens when the tool is built, never on a call.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde::Deserialize;
    /// use schemars::JsonSchema;
    /// use switchboard_runtime::{Catalog, Tool};
    /// # use std::sync::Arc;
    /// # use serde_json::{json, Value, value::RawValue};
    /// # use switchboard_runtime::{async_trait, ClientPeer, PeerError, RequestContextBuilder};
    /// # struct NoClient;
    /// # #[async_trait]
    /// # impl ClientPeer for NoClient {
    /// #     async fn notify(&self, _: &str, _: Value) {}
    /// #     async fn request(&self, _: &str, _: &str, _: Value) -> Result<Box<RawValue>, PeerError> {
    /// #         Err(PeerError::Unsupported("no client"))
    /// #     }
    /// # }
    /// # async fn call(catalog: &Catalog, name: &str, args: Value) -> Value {
    /// #     let params = json!({"name": name, "arguments": args}).to_string();
    /// #     let params = RawValue::from_string(params).unwrap();
    /// #     let id = switchboard_proto::RequestId::from_u64(1);
    /// #     let ctx = catalog.context(RequestContextBuilder::new(Arc::new(NoClient), id));
    /// #     catalog.handle("tools/call", Some(&params), ctx).await.unwrap()
    /// # }
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// struct Greet {
    ///     /// Who to greet.
    ///     name: String,
    ///     /// How many exclamation marks (default none).
    ///     #[serde(default)]
    ///     excitement: u8,
    /// }
    ///
    /// let greet = Tool::typed("greet", "Greets someone", |_ctx, args: Greet| async move {
    ///     Ok(format!("Hello, {}{}", args.name, "!".repeat(args.excitement.into())))
    /// });
    /// let schema = &greet.definition()["inputSchema"];
    /// assert_eq!(schema["type"], "object");
    /// assert_eq!(schema["properties"]["name"]["description"], "Who to greet.");
    /// assert_eq!(schema["required"], json!(["name"]));
    ///
    /// let catalog = Catalog::builder().tool(greet).build().unwrap();
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let ok = call(&catalog, "greet", json!({"name": "Ada", "excitement": 2})).await;
    /// assert_eq!(ok["content"][0]["text"], "Hello, Ada!!");
    ///
    /// let wrong = call(&catalog, "greet", json!({"name": "Ada", "excitement": "lots"})).await;
    /// assert_eq!(wrong["isError"], true);
    /// let said = wrong["content"][0]["text"].as_str().unwrap();
    /// assert!(said.starts_with("invalid arguments: excitement: invalid type"), "{said}");
    /// # });
    /// ```
    ///
    /// A structured result:
    ///
    /// ```
    /// use serde::{Deserialize, Serialize};
    /// use schemars::JsonSchema;
    /// use switchboard_runtime::{Structured, Tool};
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// struct Add {
    ///     a: f64,
    ///     b: f64,
    /// }
    ///
    /// #[derive(Serialize, JsonSchema)]
    /// struct Sum {
    ///     sum: f64,
    /// }
    ///
    /// let add = Tool::typed("add", "Adds two numbers", |_ctx, Add { a, b }: Add| async move {
    ///     Ok(Structured::new(Sum { sum: a + b }))
    /// });
    /// let output = &add.definition()["outputSchema"];
    /// assert_eq!(output["type"], "object");
    /// assert_eq!(output["properties"]["sum"]["type"], "number");
    /// ```
    pub fn typed<A, R, F, Fut>(name: &str, description: &str, handler: F) -> Self
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        R: ToolOutput,
        F: Fn(RequestContext, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ToolError>> + Send + 'static,
    {
        let input = object_schema::<A>(SchemaSettings::draft2020_12().for_deserialize())
            .unwrap_or_else(|shape| {
                panic!(
                    "tool {name:?}: the arguments type {} {shape}",
                    std::any::type_name::<A>()
                )
            });
        let tool = Self::new(name, description, input, move |ctx, args| {
            let running = arguments::<A>(args).map(|args| handler(ctx, args));
            async move { running?.await?.into_tool_result() }
        });
        match R::output_schema() {
            Some(schema) => tool.output_schema(schema),
            None => tool,
        }
    }
}

/// The call's arguments as `A`, or the tool error that names the field
/// that does not fit.
fn arguments<A: DeserializeOwned>(args: Map<String, Value>) -> Result<A, ToolError> {
    serde_path_to_error::deserialize(Value::Object(args))
        .map_err(|e| ToolError::InvalidArguments(e.to_string()))
}

/// `T`'s JSON Schema as MCP takes it for a tool's input or output: draft
/// 2020-12 without `$schema` (MCP's default dialect, and older validators
/// refuse the URI), subschemas inlined (only a recursive type keeps
/// `$defs`), no title made of the Rust type's name, and `type: "object"` at
/// the top. `Err` says what the schema is instead of an object's.
pub(crate) fn object_schema<T: JsonSchema>(settings: SchemaSettings) -> Result<Value, String> {
    let settings = settings.with(|s| {
        s.meta_schema = None;
        s.inline_subschemas = true;
    });
    let schema: Schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = Value::from(schema);
    let Some(object) = value.as_object_mut() else {
        return Err(format!("has the schema {value}, not an object's"));
    };
    if object.get("title").and_then(Value::as_str) == Some(T::schema_name().as_ref()) {
        object.remove("title");
    }
    match object.get("type") {
        Some(t) if t == "object" => Ok(value),
        None if every_branch_an_object(object) => {
            object.insert("type".into(), "object".into());
            Ok(value)
        }
        _ => Err(format!("has the schema {value}, not an object's")),
    }
}

/// Whether the schema is a choice (`oneOf`/`anyOf`) of object schemas
/// only: an enum of struct-like variants, whose whole is an object.
fn every_branch_an_object(schema: &Map<String, Value>) -> bool {
    ["oneOf", "anyOf"].iter().any(|key| {
        schema
            .get(*key)
            .and_then(Value::as_array)
            .is_some_and(|branches| {
                !branches.is_empty() && branches.iter().all(|b| b["type"] == "object")
            })
    })
}

#[cfg(test)]
mod tests;
