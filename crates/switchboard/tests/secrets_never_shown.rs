//! No secret value is ever shown. The real binary runs with known secret
//! strings in every place a credential goes — an HTTP upstream's
//! `Authorization` header and a stdio upstream's environment (from secret
//! files), a JWT issuer's HS256 secret, the sealing key, the admin token's
//! digest, the token vault's key, an identity provider's client secret
//! (its token endpoint unreachable, so the failure is logged) — with debug
//! logs, the audit trail, the admin API and trace
//! export on; clients authenticate with an API key and a JWT, call through
//! both upstreams, fail, reload. Then every log line, audit line, admin API
//! answer, exported span and the `check-config` output is searched for
//! each secret and each client credential: none may appear.

use crate::otlp;
use crate::support;

use serde_json::json;
use switchboard_auth::testing::{claims, sign_hs256};
use switchboard_testkit::McpClient;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../upstream/tests/fixtures/fixture_server.py"
);
const ENV_SECRET: &str = "env-secret-value-5f1c9e0a";
const HS256: &str = "hs256-secret-value-of-more-than-32-bytes-b7d2";
const SEALING: &str = "5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1ed5ea1";
const VAULT: &str = "7a5e7a5e7a5e7a5e7a5e7a5e7a5e7a5e7a5e7a5e7a5e7a5e7a5e7a5e7a5e7a5e";
const CLIENT_SECRET: &str = "identity-provider-client-secret-3c8d";
const ISSUER: &str = "https://login.secrets.test";
const AUDIENCE: &str = "https://switchboard.secrets.test/mcp";

fn secret_file(dir: &std::path::Path, name: &str, value: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{value}\n")).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_logs_audit_admin_answers_spans_or_check_config() {
    let dir = std::env::temp_dir().join(format!("sb-secrets-shown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (collector, spans) = otlp::receiver().await;

    // The HTTP upstream: another node requiring an API key, which is the
    // gateway's header secret.
    let (upstream_key, upstream_sha) = switchboard_auth::new_api_key();
    let upstream_config = dir.join("upstream.toml");
    std::fs::write(
        &upstream_config,
        format!(
            "[auth]\nanonymous = \"off\"\n[[tenants]]\nid = \"gw\"\napi_keys = [{{ id = \"gw\", sha256 = \"{upstream_sha}\" }}]\n"
        ),
    )
    .unwrap();
    let upstream = support::Node::spawn(Some(&upstream_config), &[]);

    let (api_key, api_sha) = switchboard_auth::new_api_key();
    let (admin_token, _) = switchboard_auth::new_api_key();
    let config = dir.join("switchboard.toml");
    let text = format!(
        r#"sealing_key = {{ file = "{sealing}" }}

[vault]
keys = [{{ id = "k1", key = {{ file = "{vault}" }} }}]

[telemetry]
otlp_endpoint = "{collector}"

[auth]
anonymous = "off"
audit = "{audit}"

[[auth.jwt]]
issuer = "{ISSUER}"
audience = ["{AUDIENCE}"]
hs256_secret = {{ file = "{hs256}" }}

[admin]
listen = "127.0.0.1:0"
token_sha256 = {{ file = "{admin}" }}

[[tenants]]
id = "acme"
api_keys = [{{ id = "ci", sha256 = "{api_sha}" }}]

[[upstreams]]
name = "web"
kind = "http"
url = "{upstream_url}"
headers = {{ Authorization = {{ file = "{header}", prefix = "Bearer " }} }}

[[upstreams]]
name = "svc"
kind = "http"
url = "{upstream_url}"

[upstreams.auth]
grant = "client_credentials"
token_endpoint = "http://127.0.0.1:9/token"
client_id = "svc"
client_secret = {{ file = "{client_secret}" }}

[[upstreams]]
name = "up"
command = "python3"
args = ["{SCRIPT}"]
env = {{ SB_SECRET = {{ file = "{env}" }} }}
"#,
        sealing = secret_file(&dir, "sealing", SEALING),
        vault = secret_file(&dir, "vault", VAULT),
        client_secret = secret_file(&dir, "client-secret", CLIENT_SECRET),
        audit = dir.join("audit.log").display(),
        hs256 = secret_file(&dir, "hs256", HS256),
        admin = secret_file(&dir, "admin", &switchboard_auth::digest_hex(&admin_token)),
        upstream_url = upstream.url,
        header = secret_file(&dir, "header", &upstream_key),
        env = secret_file(&dir, "env", ENV_SECRET),
    );
    std::fs::write(&config, &text).unwrap();
    let node = support::Node::spawn(Some(&config), &[("RUST_LOG", "debug")]);

    // Clients: an API key, a JWT; calls through both upstreams; a failure.
    let jwt = sign_hs256(HS256.as_bytes(), &claims(ISSUER, AUDIENCE, "acme", "alice"));
    for token in [&api_key, &jwt] {
        let mut c = McpClient::with_token(&node.url, token);
        c.initialize(json!({})).await;
        let r = c
            .call(
                "tools/call",
                json!({"name": "web__echo", "arguments": {"message": "hi"}}),
            )
            .await
            .0;
        assert_eq!(r["result"]["content"][0]["text"], "hi", "{r}");
        let r = c
            .call("tools/call", json!({"name": "up__count", "arguments": {}}))
            .await
            .0;
        assert!(r["result"].is_object(), "{r}");
        let r = c
            .call("tools/call", json!({"name": "nope", "arguments": {}}))
            .await
            .0;
        assert!(r["error"].is_object(), "{r}");
    }
    let bad = McpClient::with_token(&node.url, "sb_not-a-key-but-a-credential-c0ffee");
    let _ = bad.post().body("{}").send().await;

    // The admin API, every listing.
    let admin = node.admin.clone().expect("the admin listener runs");
    let http = reqwest::Client::new();
    let mut shown = String::new();
    for path in ["node", "sessions", "tenants", "upstreams", "stats"] {
        let answer = http
            .get(format!("{admin}/admin/v1/{path}"))
            .bearer_auth(&admin_token)
            .send()
            .await
            .expect("admin API");
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        shown.push_str(&answer.text().await.unwrap_or_default());
    }

    // A reload reads every secret again (SIGHUP).
    let pid = node.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let reloaded = async {
        while !node.logged().contains("configuration reloaded") {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), reloaded)
        .await
        .expect("the reload is logged");

    let check = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("check-config")
        .arg(&config)
        .output()
        .expect("check-config");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let checked = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(checked.contains("prefix = \"Bearer \""), "{checked}");

    // Let the audit writer and the span exporter catch up.
    let audit_path = dir.join("audit.log");
    for _ in 0..200 {
        let audited = std::fs::read_to_string(&audit_path).unwrap_or_default();
        if audited.matches("tool_call").count() >= 6 && !spans.lock().unwrap().spans.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let audited = std::fs::read_to_string(&audit_path).unwrap_or_default();
    assert!(audited.contains("tool_call"), "the audit trail is written");
    let exported = serde_json::to_string(&spans.lock().unwrap().spans).unwrap();
    assert!(exported.len() > 2, "spans are exported");
    let logged = node.logged();
    assert!(logged.contains("DEBUG"), "debug logs are on");
    assert!(
        logged.contains("the identity provider for upstream svc is unavailable"),
        "the client-credentials failure is logged"
    );

    let secrets = [
        (
            "the upstream header (an upstream API key)",
            upstream_key.as_str(),
        ),
        ("the stdio upstream's environment", ENV_SECRET),
        ("the HS256 secret", HS256),
        ("the sealing key", SEALING),
        ("the vault key", VAULT),
        ("an identity provider's client secret", CLIENT_SECRET),
        ("the admin token", admin_token.as_str()),
        ("a client API key", api_key.as_str()),
        ("a client JWT", jwt.as_str()),
        ("a bad credential", "sb_not-a-key-but-a-credential-c0ffee"),
    ];
    for (place, text) in [
        ("the log", &logged),
        ("the audit trail", &audited),
        ("the admin API", &shown),
        ("the exported spans", &exported),
        ("check-config", &checked),
    ] {
        for (what, secret) in secrets {
            assert!(!text.contains(secret), "{what} appears in {place}");
        }
    }
    drop(node);
    drop(upstream);
    let _ = std::fs::remove_dir_all(&dir);
}
