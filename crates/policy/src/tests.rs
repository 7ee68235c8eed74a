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
