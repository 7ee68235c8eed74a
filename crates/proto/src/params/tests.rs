//! The shared params readers: non-objects refused by every reader, and one
//! answer per request whichever layer asks.

use serde_json::value::RawValue;

use super::*;
use crate::{ErrorCode, Message, parse_message};

/// The params of a request as the envelope parser hands them on.
fn params_of(params: &str) -> Box<RawValue> {
    let text = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{params}}}"#);
    match parse_message(text.as_bytes()).expect("a request") {
        Message::Request {
            params: Some(p), ..
        } => p,
        other => panic!("params lost: {other:?}"),
    }
}

fn refused(r: Result<impl std::fmt::Debug, RpcError>, want: &str) {
    let e = r.expect_err("refused");
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{e}");
    assert!(e.message.contains(want), "{want:?} not in {:?}", e.message);
}

const NOT_OBJECTS: [(&str, &str); 7] = [
    (r#"["add",{"a":1,"b":2}]"#, "an array"),
    ("[]", "an array"),
    (r#""add""#, "a string"),
    ("5", "a number"),
    ("-1.5e3", "a number"),
    ("null", "null"),
    ("true", "a boolean"),
];

#[test]
fn only_an_object_or_nothing_passes() {
    assert!(check("ping", None).is_ok());
    assert!(check("ping", Some(&params_of("{}"))).is_ok());
    assert!(check("ping", Some(&params_of(r#" {"a":[1]}"#))).is_ok());
    for (text, kind) in NOT_OBJECTS {
        let p = params_of(text);
        refused(
            check("tools/call", Some(&p)),
            &format!("tools/call: params must be an object, not {kind}"),
        );
    }
}

#[test]
fn every_reader_refuses_what_is_not_an_object() {
    for (text, _) in NOT_OBJECTS {
        let p = Some(&*params_of(text));
        let why = "params must be an object";
        refused(ToolCall::read(p), why);
        refused(PromptGet::read(p), why);
        refused(ResourceUri::read(methods::RESOURCES_READ, p), why);
        refused(Completion::read(p), why);
        refused(SetLevel::read(p), why);
        refused(Cancelled::read(p), why);
        refused(TaskRef::read("tasks/get", p), why);
        for m in [
            methods::TOOLS_CALL,
            methods::PROMPTS_GET,
            methods::RESOURCES_READ,
            methods::RESOURCES_SUBSCRIBE,
            methods::RESOURCES_UNSUBSCRIBE,
        ] {
            refused(named(m, p), why);
        }
        assert_eq!(progress_token(p), None);
    }
}

/// The hole this module closes: serde reads a struct from a sequence, by
/// position, so `["add", {...}]` would be a call to `add`.
#[test]
fn a_struct_is_never_read_by_position() {
    let p = params_of(r#"["add",{"a":1,"b":2},{"ttl":5}]"#);
    let positional: Result<ToolCall<'_>, _> = serde_json::from_str(p.get());
    assert_eq!(positional.expect("serde alone takes it").name, "add");
    refused(ToolCall::read(Some(&p)), "params must be an object");
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Anything {
        name: String,
    }
    refused(
        parse::<Anything>("x/y", Some(&p)),
        "x/y: params must be an object",
    );
}

#[test]
fn a_tool_call_reads_its_name_arguments_and_task() {
    let p = params_of(r#"{"name":"add","arguments":{"a":1},"task":{"ttl":9},"_meta":{"x":1}}"#);
    let c = ToolCall::read(Some(&p)).unwrap();
    assert_eq!(c.name, "add");
    assert_eq!(c.arguments.map(RawValue::get), Some(r#"{"a":1}"#));
    assert_eq!(c.task.map(RawValue::get), Some(r#"{"ttl":9}"#));
    let bare = params_of(r#"{"name":"add","arguments":null,"task":null}"#);
    let c = ToolCall::read(Some(&bare)).unwrap();
    assert!(c.arguments.is_none() && c.task.is_none());
}

#[test]
fn escapes_are_decoded_alike_everywhere() {
    let p = params_of(r#"{"name":"a\u0064d","arguments":{}}"#);
    assert_eq!(ToolCall::read(Some(&p)).unwrap().name, "add");
    assert_eq!(
        named(methods::TOOLS_CALL, Some(&p)).unwrap().as_deref(),
        Some("add")
    );
    let p = params_of(r#"{"uri":"test:\/\/static\/resource\/1"}"#);
    assert_eq!(
        named(methods::RESOURCES_READ, Some(&p)).unwrap().as_deref(),
        Some("test://static/resource/1")
    );
}

/// One request must not name two things: a repeated key is refused by
/// every reader (a last-wins reader and a first-wins one would disagree).
#[test]
fn a_repeated_key_is_refused() {
    let cases = [
        (methods::TOOLS_CALL, r#"{"name":"echo","name":"add"}"#),
        (
            methods::TOOLS_CALL,
            r#"{"name":"add","arguments":{},"arguments":{}}"#,
        ),
        (methods::PROMPTS_GET, r#"{"name":"a","name":"b"}"#),
        (methods::RESOURCES_READ, r#"{"uri":"a://1","uri":"a://2"}"#),
        (
            methods::RESOURCES_SUBSCRIBE,
            r#"{"uri":"a://1","uri":"a://2"}"#,
        ),
    ];
    for (method, text) in cases {
        let p = params_of(text);
        refused(named(method, Some(&p)), "duplicate field");
    }
    let p = params_of(r#"{"taskId":"a","taskId":"b"}"#);
    refused(TaskRef::read("tasks/get", Some(&p)), "duplicate field");
}

#[test]
fn a_name_that_is_not_a_string_is_refused() {
    for text in [
        r#"{"name":5}"#,
        r#"{"name":null}"#,
        r#"{"name":["add"]}"#,
        "{}",
    ] {
        let p = params_of(text);
        refused(ToolCall::read(Some(&p)), "tools/call: ");
        refused(named(methods::PROMPTS_GET, Some(&p)), "prompts/get: ");
    }
    refused(ToolCall::read(None), "missing field `name`");
}

#[test]
fn named_agrees_with_each_methods_reader() {
    let p = params_of(r#"{"name":"n","uri":"u://x","arguments":{}}"#);
    let of = |m| named(m, Some(&p)).unwrap().map(Cow::into_owned);
    assert_eq!(
        of(methods::TOOLS_CALL),
        Some(ToolCall::read(Some(&p)).unwrap().name.into())
    );
    assert_eq!(of(methods::PROMPTS_GET), Some("n".to_owned()));
    assert_eq!(of(methods::RESOURCES_READ), Some("u://x".to_owned()));
    assert_eq!(of(methods::RESOURCES_UNSUBSCRIBE), Some("u://x".to_owned()));
    assert_eq!(of(methods::TOOLS_LIST), None);
    assert_eq!(of(methods::COMPLETION_COMPLETE), None);
}

#[test]
fn completions_tasks_levels_and_cancellations() {
    let p = params_of(r#"{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a"}}"#);
    let c = Completion::read(Some(&p)).unwrap();
    assert!(matches!(c.reference, Reference::Prompt { ref name } if name == "p"));
    assert_eq!(
        (c.argument.name.as_str(), c.argument.value.as_str()),
        ("a", "")
    );
    let p = params_of(r#"{"ref":{"type":"ref/other"},"argument":{"name":"a"}}"#);
    refused(Completion::read(Some(&p)), "completion/complete: ");

    let p = params_of(r#"{"taskId":"t-1","inputResponses":{}}"#);
    assert_eq!(
        TaskRef::read("tasks/update", Some(&p)).unwrap().task_id,
        "t-1"
    );
    refused(
        TaskRef::read("tasks/get", Some(&params_of(r#"{"taskId":7}"#))),
        "tasks/get: ",
    );

    let p = params_of(r#"{"level":"debug"}"#);
    assert_eq!(SetLevel::read(Some(&p)).unwrap().level, "debug");
    let p = params_of(r#"{"requestId":"r-1","reason":"x"}"#);
    assert_eq!(
        Cancelled::read(Some(&p)).unwrap().request_id.get(),
        r#""r-1""#
    );
}

#[test]
fn progress_tokens_are_strings_or_numbers_in_meta() {
    let token = |text: &str| progress_token(Some(&params_of(text)));
    assert_eq!(
        token(r#"{"_meta":{"progressToken":"p"}}"#),
        Some("p".into())
    );
    assert_eq!(token(r#"{"_meta":{"progressToken":7}}"#), Some(7.into()));
    assert_eq!(
        token(r#"{"_meta":{"\u0070rogressToken":7}}"#),
        Some(7.into())
    );
    assert_eq!(token(r#"{"_meta":{"progressToken":{}}}"#), None);
    assert_eq!(token(r#"{"_meta":{}}"#), None);
    assert_eq!(token(r#"{"progressToken":1}"#), None);
    assert_eq!(token(r#"[{"progressToken":1}]"#), None);
    assert_eq!(progress_token(None), None);
}
