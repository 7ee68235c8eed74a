//! Secrets wherever a credential goes: read from files (as orchestrators
//! mount them) and inline, used by value, never written out.

use std::path::PathBuf;

use switchboard_config::Config;

/// Known secret strings, to search for in what is written out.
const HEADER: &str = "gh-token-3f9a1c0e";
const ENV: &str = "db-password-77b2d4";
const HS256: &str = "an-hs256-shared-secret-of-40-bytes-5c1e";
const INLINE_HEADER: &str = "inline-key-0d9e8f";
const REDIS_PASSWORD: &str = "redis-pw-a1b2c3";

fn secret_file(dir: &std::path::Path, name: &str, value: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{value}\n")).unwrap();
    path
}

fn config_text(dir: &std::path::Path) -> String {
    let key = "ab".repeat(32);
    let digest = "cd".repeat(32);
    let file = |name: &str, value: &str| {
        format!("{:?}", secret_file(dir, name, value).display().to_string())
    };
    format!(
        r#"
sealing_key = {{ file = {sealing} }}
store = "redis"
redis_url = {{ file = {redis} }}

[admin]
token_sha256 = {{ file = {admin} }}

[[auth.jwt]]
issuer = "https://idp.example"
audience = ["https://sb.example/mcp"]
hs256_secret = {{ file = {hs256} }}

[[upstreams]]
name = "gh"
kind = "http"
url = "http://127.0.0.1:9/mcp"
headers = {{ Authorization = {{ file = {header}, prefix = "Bearer " }}, X-Api-Key = "{INLINE_HEADER}" }}

[[upstreams]]
name = "db"
command = "db-mcp"
env = {{ DB_PASSWORD = {{ file = {env} }} }}
"#,
        sealing = file("sealing", &key),
        redis = file(
            "redis",
            &format!("redis://u:{REDIS_PASSWORD}@127.0.0.1:6379")
        ),
        admin = file("admin", &digest),
        hs256 = file("hs256", HS256),
        header = file("header", HEADER),
        env = file("env", ENV),
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-config-secrets-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn secrets_are_read_from_files_and_used_by_value() {
    let dir = temp_dir("read");
    let c = Config::from_toml(&config_text(&dir)).expect("valid");
    let gh = &c.upstreams[0];
    assert_eq!(
        gh.headers["Authorization"].expose(),
        format!("Bearer {HEADER}")
    );
    assert_eq!(gh.headers["X-Api-Key"].expose(), INLINE_HEADER);
    assert_eq!(c.upstreams[1].env["DB_PASSWORD"].expose(), ENV);
    assert_eq!(c.auth.jwt[0].hs256_secret.as_ref().unwrap().expose(), HS256);
    assert_eq!(c.sealing_key_bytes().unwrap().unwrap(), vec![0xab; 32]);
    assert!(
        c.redis_url
            .as_ref()
            .unwrap()
            .expose()
            .contains(REDIS_PASSWORD)
    );
    assert_eq!(
        c.admin.token_sha256.as_ref().unwrap().expose(),
        "cd".repeat(32)
    );
}

#[test]
fn no_secret_is_written_out_or_debugged() {
    let dir = temp_dir("shown");
    let c = Config::from_toml(&config_text(&dir)).expect("valid");
    let shown = c.redacted_toml();
    let debugged = format!("{c:?}");
    for secret in [
        HEADER,
        ENV,
        HS256,
        INLINE_HEADER,
        REDIS_PASSWORD,
        &"ab".repeat(32),
    ] {
        assert!(!shown.contains(secret), "{secret} in:\n{shown}");
        assert!(!debugged.contains(secret), "{secret} in {debugged}");
    }
    // The references are shown, so an operator sees where each comes from.
    assert!(shown.contains("prefix = \"Bearer \""), "{shown}");
    assert!(
        shown.contains(&dir.join("header").display().to_string()),
        "{shown}"
    );
    assert!(shown.contains("X-Api-Key = \"<redacted>\""), "{shown}");
}

#[test]
fn a_rotated_secret_file_changes_the_upstream() {
    let dir = temp_dir("rotate");
    let text = config_text(&dir);
    let before = Config::from_toml(&text).expect("valid");
    assert_eq!(
        Config::from_toml(&text).unwrap().upstreams,
        before.upstreams
    );
    secret_file(&dir, "header", "gh-token-rotated");
    let after = Config::from_toml(&text).expect("valid");
    assert_ne!(after.upstreams[0], before.upstreams[0]);
    assert_eq!(after.upstreams[1], before.upstreams[1]);
    assert_eq!(
        after.upstreams[0].headers["Authorization"].expose(),
        "Bearer gh-token-rotated"
    );
}

#[test]
fn a_missing_secret_names_its_key_and_source_not_a_value() {
    let dir = temp_dir("missing");
    let text = config_text(&dir).replace(
        &format!("{:?}", dir.join("env").display().to_string()),
        "\"/nonexistent/db-password\"",
    );
    let e = Config::from_toml(&text).unwrap_err();
    assert!(
        e.contains("cannot read secret file /nonexistent/db-password"),
        "{e}"
    );
    let path = dir.join("cfg.toml");
    std::fs::write(&path, &text).unwrap();
    let e = Config::load(Some(&path), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("upstreams") && e.contains("/nonexistent/db-password"),
        "{e}"
    );
    let env = [(
        "SWITCHBOARD_SEALING_KEY__ENV".to_owned(),
        "SB_SURELY_UNSET_SEALING_KEY".to_owned(),
    )];
    let e = Config::load(None, env).unwrap_err().to_string();
    assert!(
        e.contains("sealing_key")
            && e.contains("environment variable SB_SURELY_UNSET_SEALING_KEY is not set"),
        "{e}"
    );
}

#[test]
fn vault_keys_are_32_bytes_with_distinct_ids_and_never_written_out() {
    let key = "ab".repeat(32);
    let c = Config::from_toml(&format!(
        "[vault]\nkeys = [{{ id = \"2026-12\", key = \"{key}\" }}, {{ id = \"2026-06\", key = \"{}\" }}]",
        "cd".repeat(32)
    ))
    .expect("valid");
    let keys = c.vault.keys().unwrap();
    assert_eq!(keys[0].id, "2026-12");
    assert_eq!(keys[0].key, [0xab; 32]);
    assert!(!c.redacted_toml().contains(&key));
    for (text, says) in [
        (
            format!(
                "[vault]\nkeys = [{{ id = \"k\", key = \"{}\" }}]",
                "ab".repeat(40)
            ),
            "exactly 32 bytes",
        ),
        (
            "[vault]\nkeys = [{ id = \"k\", key = \"abcd\" }]".to_owned(),
            "at least 32 bytes",
        ),
        (
            format!(
                "[vault]\nkeys = [{{ id = \"k\", key = \"{key}\" }}, {{ id = \"k\", key = \"{key}\" }}]"
            ),
            "given twice",
        ),
    ] {
        let e = Config::from_toml(&text).unwrap_err();
        assert!(e.contains("vault.keys[") && e.contains(says), "{e}");
        assert!(!e.contains(&key), "{e}");
    }
}
