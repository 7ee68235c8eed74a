//! Typed tools: the schemas they publish, and what a call with arguments
//! that do not fit gets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_proto::{ErrorCode, RequestId};

use crate::{
    Catalog, ClientPeer, HandlerError, PeerError, RequestContextBuilder, Structured, Tool,
    ToolError, ToolResult,
};

/// A client that can be sent nothing.
struct NoClient;

#[async_trait::async_trait]
impl ClientPeer for NoClient {
    async fn notify(&self, _: &str, _: Value) {}
    async fn request(&self, _: &str, _: &str, _: Value) -> Result<Box<RawValue>, PeerError> {
        Err(PeerError::Unsupported("a test"))
    }
}

async fn call_raw(tool: Tool, arguments: &str) -> Result<Value, HandlerError> {
    let catalog = Catalog::builder().tool(tool).build().expect("catalog");
    let name = catalog.tools()[0].name().to_owned();
    let params = format!(r#"{{"name":{},"arguments":{arguments}}}"#, json!(name));
    let params = RawValue::from_string(params).expect("JSON");
    let ctx = RequestContextBuilder::new(Arc::new(NoClient), RequestId::from_u64(1));
    catalog
        .handle("tools/call", Some(&params), catalog.context(ctx))
        .await
}

async fn call(tool: Tool, arguments: Value) -> Value {
    call_raw(tool, &arguments.to_string())
        .await
        .expect("a result")
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().expect("a text block")
}

/// Where to send it.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Address {
    street: String,
    city: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum Priority {
    Low,
    High,
}

/// A letter to post.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Letter {
    /// Who it is for.
    to: String,
    address: Address,
    priority: Priority,
    pages: Option<u32>,
    #[serde(default)]
    copies: Vec<String>,
}

fn letter_tool() -> Tool {
    Tool::typed("post", "Posts a letter", |_, l: Letter| async move {
        Ok(format!("posted to {} in {}", l.to, l.address.city))
    })
}

#[test]
fn the_input_schema_is_a_plain_object_schema_with_everything_inline() {
    let tool = letter_tool();
    let schema = &tool.definition()["inputSchema"];
    assert_eq!(schema["type"], "object");
    assert!(
        schema.get("$schema").is_none(),
        "MCP's default dialect: {schema}"
    );
    assert!(schema.get("title").is_none(), "no Rust type name: {schema}");
    assert_eq!(schema["description"], "A letter to post.");
    let text = schema.to_string();
    assert!(
        !text.contains("$ref") && !text.contains("$defs"),
        "{schema}"
    );
    let props = &schema["properties"];
    assert_eq!(
        props["to"],
        json!({"type": "string", "description": "Who it is for."})
    );
    assert_eq!(props["address"]["type"], "object");
    assert_eq!(props["address"]["required"], json!(["street", "city"]));
    assert_eq!(props["priority"]["enum"], json!(["low", "high"]));
    // Optional and defaulted fields are not required.
    assert_eq!(schema["required"], json!(["to", "address", "priority"]));
}

/// A list of itself: cannot be inlined.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Tree {
    name: String,
    #[serde(default)]
    children: Vec<Tree>,
}

/// Trees to count.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Forest {
    trees: Vec<Tree>,
}

/// Follow a local `$ref` from the root of `schema`.
fn resolve<'a>(schema: &'a Value, reference: &Value) -> &'a Value {
    let reference = reference.as_str().expect("a reference");
    let pointer = reference.strip_prefix('#').expect("a local reference");
    schema.pointer(pointer).expect("the reference resolves")
}

#[test]
fn a_recursive_type_keeps_its_definitions_at_the_root() {
    let tree = Tool::typed("tree", "Counts a tree", |_, _: Tree| async move {
        Ok(ToolResult::text("ok"))
    });
    let schema = &tree.definition()["inputSchema"];
    assert_eq!(schema["type"], "object");
    let itself = resolve(schema, &schema["properties"]["children"]["items"]["$ref"]);
    assert_eq!(itself, schema, "the root refers to itself");

    let forest = Tool::typed("forest", "Counts trees", |_, _: Forest| async move {
        Ok(ToolResult::text("ok"))
    });
    let schema = &forest.definition()["inputSchema"];
    assert_eq!(schema["type"], "object");
    // The first tree inline, its children through the definitions.
    let tree = &schema["properties"]["trees"]["items"];
    assert_eq!(tree["type"], "object", "{schema}");
    assert!(schema["$defs"].is_object(), "at the root: {schema}");
    let child = resolve(schema, &tree["properties"]["children"]["items"]["$ref"]);
    assert_eq!(child, tree, "{schema}");
    let grandchild = resolve(schema, &child["properties"]["children"]["items"]["$ref"]);
    assert_eq!(grandchild, tree, "{schema}");
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "shape", rename_all = "lowercase")]
#[allow(dead_code)]
enum Shape {
    Circle { radius: f64 },
    Square { side: f64 },
}

#[tokio::test]
async fn an_enum_of_objects_is_an_object() {
    let tool = Tool::typed("area", "Area of a shape", |_, s: Shape| async move {
        let area = match s {
            Shape::Circle { radius } => std::f64::consts::PI * radius * radius,
            Shape::Square { side } => side * side,
        };
        Ok(format!("{area:.1}"))
    });
    let schema = &tool.definition()["inputSchema"];
    assert_eq!(schema["type"], "object");
    assert_eq!(
        schema["oneOf"].as_array().map(Vec::len),
        Some(2),
        "{schema}"
    );
    let square = call(tool.clone(), json!({"shape": "square", "side": 3})).await;
    assert_eq!(text(&square), "9.0");
    let odd = call(tool, json!({"shape": "hexagon"})).await;
    assert_eq!(odd["isError"], true);
    assert!(text(&odd).contains("unknown variant `hexagon`"), "{odd}");
}

#[test]
#[should_panic(
    expected = "tool \"shout\": the arguments type alloc::string::String has the schema"
)]
fn arguments_that_are_not_an_object_are_refused_when_the_tool_is_built() {
    let _ = Tool::typed("shout", "Shouts", |_, s: String| async move {
        Ok(s.to_uppercase())
    });
}

#[test]
#[should_panic(expected = "not an object's")]
fn an_untagged_choice_with_a_non_object_is_refused() {
    #[derive(Deserialize, JsonSchema)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Either {
        Named { name: String },
        Number(u32),
    }
    let _ = Tool::typed("either", "Either", |_, _: Either| async move {
        Ok(String::new())
    });
}

#[test]
#[should_panic(expected = "the output type alloc::vec::Vec<u32> has the schema")]
fn a_structured_output_that_is_not_an_object_is_refused_when_the_tool_is_built() {
    let _ = Tool::typed("list", "Lists", |_, _: Add| async move {
        Ok(Structured::new(vec![1u32, 2]))
    });
}

#[derive(Debug, Serialize, JsonSchema)]
struct Sum {
    /// The total.
    sum: f64,
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Add {
    a: f64,
    b: f64,
}

#[tokio::test]
async fn a_structured_result_has_its_output_schema_and_text() {
    let tool = Tool::typed("add", "Adds", |_, Add { a, b }: Add| async move {
        Ok(Structured::new(Sum { sum: a + b }))
    });
    let output = &tool.definition()["outputSchema"];
    assert_eq!(
        output,
        &json!({"type": "object", "properties": {"sum": {"type": "number", "format": "double", "description": "The total."}}, "required": ["sum"]})
    );
    let result = call(tool, json!({"a": 2, "b": 40})).await;
    assert_eq!(result["structuredContent"], json!({"sum": 42.0}));
    let said: Value = serde_json::from_str(text(&result)).expect("the text is its JSON");
    assert_eq!(said, result["structuredContent"]);
    assert!(result.get("isError").is_none());

    let plain = Tool::typed("add", "Adds", |_, Add { a, b }: Add| async move {
        Ok(ToolResult::text((a + b).to_string()))
    });
    assert!(plain.definition().get("outputSchema").is_none());
    assert_eq!(text(&call(plain, json!({"a": 1, "b": 2})).await), "3");
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Strict {
    count: u8,
    inner: Inner,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Inner {
    items: Vec<u32>,
}

/// Arguments that do not fit are the tool's error, naming the field and
/// what was wrong, and the handler never runs.
#[tokio::test]
async fn arguments_that_do_not_fit_are_an_error_result_naming_the_field() {
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = ran.clone();
    let tool = Tool::typed("strict", "Strict", move |_, _: Strict| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok(String::from("ran")) }
    });
    assert_eq!(
        tool.definition()["inputSchema"]["additionalProperties"],
        false
    );
    let cases = [
        (
            json!({"inner": {"items": []}}),
            "invalid arguments: missing field `count`",
        ),
        (
            json!({"count": 300, "inner": {"items": []}}),
            "invalid arguments: count: invalid value: integer `300`, expected u8",
        ),
        (
            json!({"count": "2", "inner": {"items": []}}),
            "invalid arguments: count: invalid type: string \"2\", expected u8",
        ),
        (
            json!({"count": 1, "inner": {"items": [1, -2]}}),
            "invalid arguments: inner.items[1]: invalid value: integer `-2`, expected u32",
        ),
        (
            json!({"count": 1, "inner": {}}),
            "invalid arguments: inner: missing field `items`",
        ),
        (
            json!({"count": 1, "inner": {"items": []}, "extra": 1}),
            "invalid arguments: extra: unknown field `extra`, expected `count` or `inner`",
        ),
        (json!({}), "invalid arguments: missing field `count`"),
    ];
    for (arguments, said) in cases {
        let result = call(tool.clone(), arguments.clone()).await;
        assert_eq!(result["isError"], true, "{arguments}: {result}");
        assert_eq!(text(&result), said, "{arguments}");
    }
    assert_eq!(ran.load(Ordering::SeqCst), 0, "the handler never ran");
    let fits = call(tool, json!({"count": 1, "inner": {"items": [1]}})).await;
    assert_eq!(text(&fits), "ran");
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

/// Absent arguments are an empty object, as for any tool; arguments that
/// are not an object at all stay a -32602 error.
#[tokio::test]
async fn absent_arguments_are_empty_and_non_objects_are_invalid_params() {
    #[derive(Deserialize, JsonSchema)]
    struct Optional {
        #[serde(default)]
        name: Option<String>,
    }
    let tool = || {
        Tool::typed("hi", "Hi", |_, o: Optional| async move {
            Ok(format!("hi {}", o.name.as_deref().unwrap_or("you")))
        })
    };
    let absent = call_raw(tool(), "null").await.expect("a result");
    assert_eq!(text(&absent), "hi you");
    for not_object in ["[1]", "\"x\"", "3"] {
        match call_raw(tool(), not_object).await {
            Err(HandlerError::Rpc(e)) => {
                assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{not_object}");
            }
            other => panic!("{not_object}: {other:?}"),
        }
    }
}

/// The handler's own errors keep their meaning.
#[tokio::test]
async fn the_handlers_errors_are_answered_as_for_any_tool() {
    let tool = Tool::typed("fail", "Fails", |_, _: Add| async move {
        Err::<String, _>(ToolError::failed("no"))
    });
    let result = call(tool, json!({"a": 1, "b": 2})).await;
    assert_eq!(result["isError"], true);
    assert_eq!(text(&result), "no");
}
