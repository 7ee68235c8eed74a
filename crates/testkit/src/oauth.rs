//! The tests' OAuth authorization server: Authlib's, in the venv that
//! `scripts/tools.sh` makes (`tests/interop/python/oauth_server.py`), a real
//! child process on a free loopback port.

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The audience of users' tokens (Switchboard's resource).
pub const SWITCHBOARD: &str = "https://switchboard.test/mcp";
/// The audience tokens are exchanged for (the upstream's).
pub const UPSTREAM: &str = "https://upstream.test/mcp";

const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/venv/bin/python");
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/interop/python/oauth_server.py"
);

/// A running authorization server.
#[derive(Debug)]
pub struct OAuthServer {
    child: Child,
    issuer: String,
}

impl OAuthServer {
    /// Start it with these environment variables (`EXCHANGE_TTL`…).
    pub async fn start(env: &[(&str, &str)]) -> Self {
        assert!(
            std::path::Path::new(PYTHON).exists(),
            "{PYTHON} is missing: run scripts/tools.sh (it makes the venv with Authlib)"
        );
        let mut child = Command::new(PYTHON)
            .arg(SCRIPT)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the authorization server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .expect("its port");
        let port = line
            .trim()
            .strip_prefix("port ")
            .unwrap_or_else(|| panic!("the authorization server said {line:?}"));
        Self {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A JWT issuer entry accepting its tokens meant for `audience`.
    pub fn jwt(&self, audience: &str) -> switchboard_auth::JwtConfig {
        switchboard_auth::JwtConfig {
            issuer: self.issuer(),
            audience: vec![audience.into()],
            jwks_url: Some(format!("{}/jwks", self.issuer)),
            ..switchboard_auth::JwtConfig::default()
        }
    }

    /// Sign `user` in at the authorization server as a browser would,
    /// starting at `url` (Switchboard's connect page): every redirect
    /// followed, the login form posted. The last page's status and text.
    pub async fn sign_in(&self, url: &str, user: &str) -> (u16, String) {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut at = url.to_owned();
        for _ in 0..10 {
            let page = browser.get(&at).send().await.expect("a page");
            if let Some(next) = page.headers().get("location") {
                at = next.to_str().expect("a location").to_owned();
                continue;
            }
            let status = page.status().as_u16();
            let text = page.text().await.unwrap_or_default();
            if !text.contains("<form method=\"post\">") {
                return (status, text);
            }
            let login = browser
                .post(&at)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("username={user}&password={user}-pw"))
                .send()
                .await
                .expect("the login");
            match login.headers().get("location") {
                Some(next) => at = next.to_str().expect("a location").to_owned(),
                None => {
                    let status = login.status().as_u16();
                    return (status, login.text().await.unwrap_or_default());
                }
            }
        }
        panic!("too many redirects from {url}");
    }

    /// Revoke every refresh token of `user`.
    pub async fn revoke_refresh(&self, user: &str) {
        reqwest::Client::new()
            .post(format!("{}/revoke-refresh", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("user={user}"))
            .send()
            .await
            .expect("revoke");
    }

    /// Its issuer, and the base of its endpoints.
    pub fn issuer(&self) -> String {
        self.issuer.clone()
    }

    /// A user's access token for Switchboard (password grant).
    pub async fn user_token(&self, user: &str) -> String {
        let form = [
            ("grant_type", "password"),
            ("username", user),
            ("password", &format!("{user}-pw")),
            ("client_id", "test-cli"),
        ];
        let body: Value = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                form.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&"),
            )
            .send()
            .await
            .expect("token endpoint")
            .json()
            .await
            .expect("a token");
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token for {user}: {body}"))
            .to_owned()
    }

    /// What it issued so far.
    pub async fn stats(&self) -> Value {
        reqwest::get(format!("{}/stats", self.issuer))
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON")
    }

    /// Stop it (the identity provider goes down).
    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}
