use super::*;

fn raw(s: &str) -> Box<RawValue> {
    RawValue::from_string(s.to_owned()).unwrap()
}

#[test]
fn progress_token_is_replaced_and_everything_else_kept() {
    let params =
        raw(r#"{"name":"t", "arguments":{"b":1,"a":[1.50]},"_meta":{"x":true,"progressToken":7}}"#);
    let (new, original, _) = replace_progress_token(&params, || "sb-1".into()).unwrap();
    assert_eq!(original.get(), "7");
    assert_eq!(
        new.get(),
        r#"{"name":"t","arguments":{"b":1,"a":[1.50]},"_meta":{"x":true,"progressToken":"sb-1"}}"#
    );
}

#[test]
fn no_token_no_rewrite() {
    assert!(replace_progress_token(&raw(r#"{"name":"t"}"#), || "x".into()).is_none());
    assert!(replace_progress_token(&raw(r#"{"_meta":{}}"#), || "x".into()).is_none());
    assert!(replace_progress_token(&raw(r#"[1]"#), || "x".into()).is_none());
    let escaped = raw(r#"{"\u005fmeta":{"progressToken":"a"}}"#);
    assert!(replace_progress_token(&escaped, || "x".into()).is_some());
}

#[test]
fn lines_keep_params_raw() {
    let p = raw(r#"{"a": 1.0}"#);
    assert_eq!(
        request_line(3, "tools/call", Some(&p)),
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"a": 1.0}}"#
    );
    assert_eq!(
        notification_line("notifications/initialized", None),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
    );
}

#[test]
fn errors_and_ids() {
    let e = rpc_error(&raw(r#"{"code":-32602,"message":"bad","data":{"x":1}}"#));
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert_eq!(e.data, Some(serde_json::json!({"x": 1})));
    assert_eq!(rpc_error(&raw("3")).code, ErrorCode::INTERNAL_ERROR);
    let p = raw(r#"{"requestId":"ask-1","reason":"x"}"#);
    assert_eq!(
        cancelled_request_id(Some(&p)).as_deref(),
        Some(r#""ask-1""#)
    );
}

#[test]
fn truncation_respects_char_boundaries() {
    assert_eq!(truncate("abc", 5), "abc");
    assert!(truncate("ééé", 3).starts_with('é'));
}
