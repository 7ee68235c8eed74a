use std::io::Write;

use super::*;

fn file(text: &str) -> tempfile_lite::TempFile {
    tempfile_lite::TempFile::with(text)
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A tiny temporary file (the crate avoids a dev-dependency for it).
mod tempfile_lite {
    pub struct TempFile(pub std::path::PathBuf);
    impl TempFile {
        pub fn with(text: &str) -> Self {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).unwrap();
            let path = std::env::temp_dir().join(format!(
                "switchboard-config-{}.toml",
                u64::from_le_bytes(bytes)
            ));
            let mut f = std::fs::File::create(&path).unwrap();
            super::Write::write_all(&mut f, text.as_bytes()).unwrap();
            Self(path)
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn error(file_text: Option<&str>, vars: &[(&str, &str)]) -> (String, String, String) {
    let f = file_text.map(file);
    match load(f.as_ref().map(|f| f.0.as_path()), env(vars)) {
        Err(ConfigError::Invalid {
            key,
            origin,
            message,
        }) => (key, origin, message),
        other => panic!("expected an invalid configuration, got {other:?}"),
    }
}

#[test]
fn layers_apply_in_order() {
    let f = file("max_sessions = 10\nkeep_alive_secs = 20\n");
    let c = load(
        Some(&f.0),
        env(&[
            ("SWITCHBOARD_KEEP_ALIVE_SECS", "30"),
            ("MCP_CONNECTION_POOL_SIZE", "7"),
        ]),
    )
    .unwrap();
    assert_eq!(c.max_sessions, 10, "file over default");
    assert_eq!(c.keep_alive_secs, 30, "environment over file");
    assert_eq!(c.upstream_pool_size, 7, "alias");
    assert_eq!(c.page_size, 100, "default");
    let c = load(
        None,
        env(&[("MCP_MAX_CONNECTIONS", "42"), ("PATH", "/bin")]),
    )
    .unwrap();
    assert_eq!(c.max_sessions, 42);
}

#[test]
fn durations_take_units() {
    let f =
        file("keep_alive_secs = \"2m\"\nsession_idle_secs = \"1h\"\nqueue_deadline_ms = \"3s\"\n");
    let c = load(Some(&f.0), env(&[])).unwrap();
    assert_eq!(
        (c.keep_alive_secs, c.session_idle_secs, c.queue_deadline_ms),
        (120, 3600, 3000)
    );
}

#[test]
fn unknown_key_names_key_and_file() {
    let (key, source, message) = error(Some("no_such_key = 1\n"), &[]);
    assert_eq!(key, "no_such_key");
    assert!(source.ends_with(".toml"), "{source}");
    assert!(message.contains("unknown field"), "{message}");
    let (key, source, _) = error(None, &[("SWITCHBOARD_NO_SUCH", "1")]);
    assert_eq!(key, "no_such");
    assert_eq!(source, "environment variable SWITCHBOARD_NO_SUCH");
}

#[test]
fn wrong_type_names_key_and_source() {
    let (key, source, message) = error(None, &[("SWITCHBOARD_MAX_BODY_BYTES", "lots")]);
    assert_eq!(key, "max_body_bytes");
    assert_eq!(source, "environment variable SWITCHBOARD_MAX_BODY_BYTES");
    assert!(message.contains("invalid type"), "{message}");
    let (key, _, _) = error(Some("allowed_hosts = 3\n"), &[]);
    assert_eq!(key, "allowed_hosts");
}

#[test]
fn bad_duration_names_key() {
    let (key, source, message) = error(Some("keep_alive_secs = \"soon\"\n"), &[]);
    assert_eq!(key, "keep_alive_secs");
    assert!(source.ends_with(".toml"));
    assert!(message.contains("duration"), "{message}");
}

#[test]
fn negative_or_zero_cap_names_key() {
    let (key, source, message) = error(None, &[("SWITCHBOARD_MAX_SESSIONS", "-5")]);
    assert_eq!(key, "max_sessions");
    assert_eq!(source, "environment variable SWITCHBOARD_MAX_SESSIONS");
    assert!(message.contains("-5"), "{message}");
    let (key, _, message) = error(Some("max_in_flight = 0\n"), &[]);
    assert_eq!(key, "max_in_flight");
    assert!(message.contains("greater than 0"), "{message}");
}

#[test]
fn syntax_errors_name_the_file() {
    let (_, source, _) = error(Some("max_sessions = = 1\n"), &[]);
    assert!(source.ends_with(".toml"));
}

#[test]
fn the_admin_section_layers_and_names_its_keys() {
    let digest = "ab".repeat(32);
    let f = file("[admin]\nlisten = \"127.0.0.1:9000\"\nnode_id = \"from-file\"\n");
    let c = load(
        Some(&f.0),
        env(&[
            ("SWITCHBOARD_ADMIN__TOKEN_SHA256", digest.as_str()),
            ("SWITCHBOARD_ADMIN__NODE_ID", "from-env"),
        ]),
    )
    .unwrap();
    assert_eq!(c.admin.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(
        c.admin.token_sha256.as_ref().map(|s| s.expose()),
        Some(digest.as_str())
    );
    assert_eq!(c.admin.node_id(), "from-env");
    let (key, origin, _) = error(None, &[("SWITCHBOARD_ADMIN__TOKEN_SHA256", "nothex")]);
    assert_eq!(key, "admin.token_sha256");
    assert!(
        origin.contains("SWITCHBOARD_ADMIN__TOKEN_SHA256"),
        "{origin}"
    );
    let default = load(None, env(&[])).unwrap();
    assert!(
        default
            .admin
            .node_id()
            .ends_with(&format!("-{}", std::process::id()))
    );
}

#[test]
fn the_binarys_own_variables_are_not_keys() {
    let vars = [
        ("SWITCHBOARD_LOG_FORMAT", "json"),
        ("SWITCHBOARD_ADMIN_TOKEN", "sb_x"),
        ("SWITCHBOARD_API_KEY", "sb_y"),
    ];
    load(None, env(&vars)).unwrap();
    let (key, _, _) = error(None, &[("SWITCHBOARD_NO_SUCH_KEY", "1")]);
    assert_eq!(key, "no_such_key");
}
