use serde_json::json;

use super::*;

fn facts<'a>(args: &'a Value, claims: &'a Map<String, Value>, scopes: &'a [String]) -> Facts<'a> {
    Facts {
        method: "tools/call",
        name: "github__create_issue",
        args,
        annotations: &Value::Null,
        tenant: "acme",
        subject: "ada",
        scopes,
        claims,
    }
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let e = Condition::compile("args.repo ==").unwrap_err();
    assert_eq!((e.line, e.column), (1, 13), "{e}");
    assert!(e.to_string().starts_with("line 1, column 13: "), "{e}");
    let e = Condition::compile("true &&\n  (args.x *").unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(Condition::compile("  ").is_err());
    assert!(
        Condition::compile("annotations.readOnlyHint")
            .unwrap()
            .reads_annotations()
    );
    assert!(
        !Condition::compile("args.x == 1")
            .unwrap()
            .reads_annotations()
    );
}

#[test]
fn conditions_read_arguments_claims_and_scopes() {
    let args = json!({"repo": "acme/site", "count": 3});
    let claims = json!({"groups": ["eng", "admins"], "email": "ada@acme.example"});
    let Value::Object(claims) = claims else {
        unreachable!()
    };
    let scopes = vec!["repo:write".to_owned()];
    let f = facts(&args, &claims, &scopes);
    let holds = |src: &str| Condition::compile(src).unwrap().holds(&f);
    assert_eq!(holds("args.repo.startsWith('acme/')"), Ok(true));
    assert_eq!(
        holds("'admins' in claims.groups && args.count < 5"),
        Ok(true)
    );
    assert_eq!(
        holds("'repo:write' in scopes && tenant == 'acme'"),
        Ok(true)
    );
    assert_eq!(holds("claims.email.endsWith('@other.example')"), Ok(false));
    assert_eq!(holds("args.repo.matches('^acme/[a-z]+$')"), Ok(true));
    assert_eq!(holds("has(args.branch)"), Ok(false));
}

#[test]
fn what_cannot_be_decided_is_an_error() {
    let args = json!({});
    let claims = Map::new();
    let f = facts(&args, &claims, &[]);
    let holds = |src: &str| Condition::compile(src).unwrap().holds(&f);
    assert!(holds("args.repo == 'x'").is_err(), "a missing key");
    assert!(holds("'a' + 'b'").unwrap_err().contains("not a boolean"));
    assert!(holds("args.count > 'x'").is_err());
}

#[test]
fn the_redactor_masks_seeded_secrets_and_leaves_the_rest() {
    let r = Redactor::new(true, &[("ticket".into(), r"TKT-\d{6}".into())]).unwrap();
    let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
    let mut v = json!({
        "content": [
            {"type": "text", "text": "key AKIAIOSFODNN7EXAMPLE and ghp_0123456789abcdefghijABCDEFGHIJ012345"},
            {"type": "image", "data": "AKIAIOSFODNN7EXAMPLE", "mimeType": "image/png"},
            {"type": "text", "text": key},
        ],
        "structuredContent": {"note": "see TKT-123456", "AKIAIOSFODNN7EXAMPLE": 1},
        "isError": false,
    });
    let mut hits = r.redact(&mut v);
    hits.sort();
    let names: Vec<&str> = hits.iter().map(|h| &**h).collect();
    assert_eq!(
        names,
        ["aws_access_key_id", "github_token", "private_key", "ticket"]
    );
    assert_eq!(
        v["content"][0]["text"],
        "key [redacted:aws_access_key_id] and [redacted:github_token]"
    );
    assert_eq!(
        v["content"][1]["data"], "AKIAIOSFODNN7EXAMPLE",
        "binary is left"
    );
    assert_eq!(v["content"][2]["text"], "[redacted:private_key]");
    assert_eq!(v["structuredContent"]["note"], "see [redacted:ticket]");
    assert!(
        v["structuredContent"].get("AKIAIOSFODNN7EXAMPLE").is_some(),
        "keys are left"
    );
    let mut clean = json!({"content": [{"type": "text", "text": "nothing to hide"}]});
    assert!(r.redact(&mut clean).is_empty());
    assert_eq!(clean["content"][0]["text"], "nothing to hide");
}

#[test]
fn a_bad_pattern_names_itself() {
    let e = Redactor::new(
        false,
        &[("ok".into(), "a+".into()), ("bad".into(), "(".into())],
    )
    .unwrap_err();
    assert_eq!(e.0, 1);
    assert!(Redactor::new(false, &[("long".into(), "a".repeat(2000))]).is_err());
}
