use std::io::Write;

use proptest::prelude::*;

use super::*;

#[derive(Debug, Deserialize, Serialize)]
struct Holder {
    key: Secret,
}

fn load(text: &str) -> Result<Secret, String> {
    toml::from_str::<Holder>(text)
        .map(|h| h.key)
        .map_err(|e| e.message().to_owned())
}

fn shown(secret: &Secret) -> String {
    toml::to_string(&Holder {
        key: secret.clone(),
    })
    .unwrap()
}

fn temp_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(contents)
        .unwrap();
    path
}

#[test]
fn an_inline_secret_is_never_shown() {
    let s = load(r#"key = "hunter2-inline""#).unwrap();
    assert_eq!(s.expose(), "hunter2-inline");
    assert!(s.is_inline());
    assert_eq!(format!("{s:?}"), "<redacted>");
    assert_eq!(shown(&s), "key = \"<redacted>\"\n");
    assert_eq!(serde_json::to_string(&s).unwrap(), "\"<redacted>\"");
}

#[test]
fn a_redacted_placeholder_is_not_taken_for_a_value() {
    let e = load(r#"key = "<redacted>""#).unwrap_err();
    assert!(e.contains("not written out"), "{e}");
}

#[test]
fn an_environment_variable_is_read_and_shown_by_name() {
    let path = std::env::var("PATH").expect("PATH is set for tests");
    let s = load(r#"key = { env = "PATH", prefix = "p:" }"#).unwrap();
    assert_eq!(s.expose(), format!("p:{path}"));
    assert_eq!(s.env_name(), Some("PATH"));
    assert_eq!(format!("{s:?}"), "Secret(env PATH)");
    assert_eq!(shown(&s), "[key]\nenv = \"PATH\"\nprefix = \"p:\"\n");
    // What is written out reads back to the same secret.
    assert_eq!(load(&shown(&s)).unwrap(), s);
}

#[test]
fn a_missing_variable_is_named() {
    let e = load(r#"key = { env = "SB_SECRET_TEST_SURELY_UNSET" }"#).unwrap_err();
    assert_eq!(
        e,
        "environment variable SB_SECRET_TEST_SURELY_UNSET is not set"
    );
}

#[test]
fn a_file_is_read_without_its_line_break() {
    let path = temp_file("token", b"s3cr3t-from-file\r\n");
    let s = load(&format!(
        "key = {{ file = {:?} }}",
        path.display().to_string()
    ))
    .unwrap();
    assert_eq!(s.expose(), "s3cr3t-from-file");
    assert_eq!(s.file_path(), Some(path.as_path()));
    assert!(!format!("{s:?}").contains("s3cr3t"));
    assert!(!shown(&s).contains("s3cr3t"));
}

#[test]
fn a_rotated_file_makes_a_different_secret() {
    let path = temp_file("rotated", b"first-value\n");
    let text = format!("key = {{ file = {:?} }}", path.display().to_string());
    let first = load(&text).unwrap();
    assert_eq!(load(&text).unwrap(), first);
    temp_file("rotated", b"second-value\n");
    let second = load(&text).unwrap();
    assert_ne!(second, first, "same reference, new value");
    assert_eq!(shown(&second), shown(&first), "written out alike");
}

#[test]
fn bad_files_are_refused_by_path() {
    let missing = load(r#"key = { file = "/nonexistent/sb-secret" }"#).unwrap_err();
    assert!(
        missing.starts_with("cannot read secret file /nonexistent/sb-secret"),
        "{missing}"
    );
    let empty = temp_file("empty", b"\n");
    let e = load(&format!(
        "key = {{ file = {:?} }}",
        empty.display().to_string()
    ))
    .unwrap_err();
    assert!(e.ends_with("is empty"), "{e}");
    let big = temp_file("big", &vec![b'x'; MAX_FILE_BYTES as usize + 1]);
    let e = load(&format!(
        "key = {{ file = {:?} }}",
        big.display().to_string()
    ))
    .unwrap_err();
    assert!(e.contains("larger than"), "{e}");
}

#[test]
fn a_reference_needs_exactly_one_source() {
    for text in [
        r#"key = { prefix = "x" }"#,
        r#"key = { env = "PATH", file = "/etc/hostname" }"#,
    ] {
        let e = load(text).unwrap_err();
        assert!(e.contains("exactly one of `env` and `file`"), "{text}: {e}");
    }
    let e = load(r#"key = { vault = "x" }"#).unwrap_err();
    assert!(e.contains("unknown field `vault`"), "{e}");
    let e = load("key = 5").unwrap_err();
    assert!(e.contains("a string, or a table"), "{e}");
}

proptest! {
    /// Whatever an inline or file secret holds, neither `Debug` nor what
    /// is written out contains it.
    #[test]
    fn no_value_is_ever_shown(value in "[!-~]{8,40}") {
        prop_assume!(!REDACTED.contains(value.as_str()) && !"PATH".contains(value.as_str()));
        let inline = Secret::new(value.as_str());
        let debugged = format!("{inline:?}");
        prop_assert!(!debugged.contains(&value));
        prop_assert!(!shown(&inline).contains(&value));
        let path = temp_file("prop", format!("{value}\n").as_bytes());
        let from_file = Secret::resolve(Reference::file(&path)).map_err(TestCaseError::fail)?;
        prop_assert_eq!(from_file.expose(), value.as_str());
        let debugged = format!("{from_file:?}");
        prop_assert!(!debugged.contains(&value));
        prop_assert!(!shown(&from_file).contains(&value));
    }
}
