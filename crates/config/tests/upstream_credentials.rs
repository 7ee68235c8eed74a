//! Tenants' own credentials for an upstream, as the configuration gives
//! them: put over the upstream's, checked against the configured tenants,
//! never written out.

use switchboard_config::Config;

const UPSTREAM: &str = r#"
[[tenants]]
id = "acme"

[[tenants]]
id = "globex"

[[upstreams]]
name = "gh"
kind = "http"
url = "http://127.0.0.1:9/mcp"
headers = { X-Common = "1", Authorization = "Bearer upstream-own-7c1d" }

[upstreams.tenants.acme]
headers = { authorization = "Bearer acme-own-91fe" }

[[upstreams]]
name = "db"
command = "db-mcp"
credentials = "per_tenant"
env = { LOG = "debug" }

[upstreams.tenants.globex]
env = { DB_PASSWORD = "globex-pw-5ab0" }
"#;

#[test]
fn a_tenant_s_own_credentials_are_put_over_the_upstream_s() {
    let c = Config::from_toml(UPSTREAM).expect("valid");
    let gh = &c.upstreams[0];
    let shown = |m: std::collections::BTreeMap<String, switchboard_config::Secret>| {
        m.into_iter()
            .map(|(k, v)| (k, v.expose().to_owned()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shown(gh.headers_for(Some("acme"))),
        [
            ("X-Common".to_owned(), "1".to_owned()),
            (
                "authorization".to_owned(),
                "Bearer acme-own-91fe".to_owned()
            )
        ]
    );
    assert_eq!(
        shown(gh.headers_for(Some("globex"))),
        shown(gh.headers_for(None)),
        "a tenant without its own gets the upstream's"
    );
    let db = &c.upstreams[1];
    assert_eq!(
        shown(db.env_for(Some("globex"))),
        [
            ("DB_PASSWORD".to_owned(), "globex-pw-5ab0".to_owned()),
            ("LOG".to_owned(), "debug".to_owned())
        ]
    );
    let written = c.redacted_toml();
    for secret in ["upstream-own-7c1d", "acme-own-91fe", "globex-pw-5ab0"] {
        assert!(!written.contains(secret), "{secret} in\n{written}");
    }
}

#[test]
fn bad_tenant_credentials_are_refused_by_key() {
    for (from, to, says) in [
        (
            "[upstreams.tenants.acme]",
            "[upstreams.tenants.initech]",
            "upstreams[0].tenants.initech: no tenant \"initech\" is configured",
        ),
        (
            "[upstreams.tenants.globex]\nenv = { DB_PASSWORD = \"globex-pw-5ab0\" }",
            "",
            "upstreams[1].credentials: credentials = \"per_tenant\" needs at least one",
        ),
        (
            "headers = { authorization = \"Bearer acme-own-91fe\" }",
            "headers = { \"bad header\" = \"x\" }",
            "upstreams[0].tenants.acme.headers: \"bad header\" is not a header name",
        ),
    ] {
        let text = UPSTREAM.replace(from, to);
        assert_ne!(text, UPSTREAM);
        let e = Config::from_toml(&text).unwrap_err();
        assert!(e.contains(says), "{e}");
        assert!(!e.contains("own-"), "no secret in {e}");
    }
    let builtin = "[[upstreams]]\nname = \"b\"\nkind = \"builtin\"\nprefix = \"\"\n[upstreams.tenants.anonymous]\nenv = { X = \"1\" }";
    let e = Config::from_toml(builtin).unwrap_err();
    assert!(
        e.contains("the builtin toolset takes no credentials"),
        "{e}"
    );
}

const EXCHANGED: &str = r#"
[[tenants]]
id = "acme"

[[upstreams]]
name = "jira"
kind = "http"
url = "https://jira-mcp.example/mcp"

[upstreams.auth]
grant = "token_exchange"
token_endpoint = "https://login.example/oauth2/token"
client_id = "switchboard"
client_secret = "exchange-secret-4e1f"
audience = "https://jira-mcp.example"
scopes = ["read", "write"]

[[upstreams]]
name = "svc"
kind = "http"
url = "https://svc.example/mcp"
mode = "shared"

[upstreams.auth]
grant = "client_credentials"
token_endpoint = "https://login.example/oauth2/token"
client_id = "shared-svc"

[upstreams.tenants.acme]
client_id = "acme-svc"
client_secret = "acme-svc-secret-77aa"
"#;

#[test]
fn tokens_from_an_identity_provider_are_configured_per_upstream_and_tenant() {
    let c = Config::from_toml(EXCHANGED).expect("valid");
    let jira = c.upstreams[0].auth.as_ref().expect("auth");
    assert_eq!(jira.scopes, ["read", "write"]);
    assert_eq!(jira.timeout_ms, 5000);
    let svc = &c.upstreams[1];
    assert_eq!(svc.auth_for(Some("acme")).unwrap().client_id, "acme-svc");
    assert_eq!(svc.auth_for(None).unwrap().client_id, "shared-svc");
    let written = c.redacted_toml();
    for secret in ["exchange-secret-4e1f", "acme-svc-secret-77aa"] {
        assert!(!written.contains(secret), "{secret} in\n{written}");
    }
    assert!(!format!("{c:?}").contains("exchange-secret-4e1f"));
}

#[test]
fn bad_identity_settings_are_refused_by_key() {
    for (from, to, says) in [
        (
            "url = \"https://jira-mcp.example/mcp\"",
            "url = \"https://jira-mcp.example/mcp\"\nmode = \"shared\"",
            "upstreams[0].mode: a token of each caller's own needs mode = \"per_session\"",
        ),
        (
            "token_endpoint = \"https://login.example/oauth2/token\"\nclient_id = \"switchboard\"",
            "token_endpoint = \"login.example\"\nclient_id = \"switchboard\"",
            "upstreams[0].auth.token_endpoint",
        ),
        (
            "grant = \"client_credentials\"",
            "grant = \"password\"",
            "unknown variant `password`",
        ),
    ] {
        let text = EXCHANGED.replace(from, to);
        assert_ne!(text, EXCHANGED);
        let e = Config::from_toml(&text).unwrap_err();
        assert!(e.contains(says), "{e}");
        assert!(!e.contains("secret-"), "no secret in {e}");
    }
    let stdio = "[[upstreams]]\nname = \"s\"\ncommand = \"x\"\n[upstreams.auth]\ntoken_endpoint = \"https://l/t\"\nclient_id = \"c\"";
    let e = Config::from_toml(stdio).unwrap_err();
    assert!(
        e.contains("tokens from an identity provider are for http upstreams"),
        "{e}"
    );
    let orphan = "[[tenants]]\nid = \"acme\"\n[[upstreams]]\nname = \"h\"\nkind = \"http\"\nurl = \"http://h/mcp\"\n[upstreams.tenants.acme]\nclient_id = \"c\"";
    let e = Config::from_toml(orphan).unwrap_err();
    assert!(e.contains("upstreams[0].tenants.acme.client_id"), "{e}");
}

#[test]
fn an_authorization_server_named_by_the_upstream_gets_no_client_secret() {
    let base = "[vault]\nkeys = [{ id = \"k\", key = \"abababababababababababababababababababababababababababababababab\" }]\n\
        [[upstreams]]\nname = \"gh\"\nkind = \"http\"\nurl = \"https://gh.example/mcp\"\n\
        [upstreams.auth]\ngrant = \"authorization_code\"\nclient_id = \"c\"\n\
        redirect_uri = \"https://sb.example/connect/callback\"\n";
    // Discovered from the upstream's metadata: a public client only.
    Config::from_toml(base).expect("a public client may discover");
    let e = Config::from_toml(&format!("{base}client_secret = \"s-4f2a\"\n")).unwrap_err();
    assert!(
        e.contains("upstreams[0].auth.issuer") && e.contains("not trusted with the secret"),
        "{e}"
    );
    assert!(!e.contains("s-4f2a"), "{e}");
    // With the issuer named, the secret goes to its token endpoint.
    Config::from_toml(&format!(
        "{base}client_secret = \"s-4f2a\"\nissuer = \"https://login.example\"\n"
    ))
    .expect("an issuer named");
}
