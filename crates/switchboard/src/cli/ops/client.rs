//! A small client of the admin API: the bearer token on every request, and
//! failures (401, 404, no listener) told in words.

use reqwest::StatusCode;
use serde_json::Value;

pub(super) struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl AdminClient {
    pub(super) fn new(base: &str, token: &str) -> Result<Self, String> {
        let base = base.trim_end_matches('/');
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(format!("--admin must be an http:// URL, not {base:?}"));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            base: base.to_owned(),
            token: token.to_owned(),
        })
    }

    pub(super) async fn get(&self, path: &str) -> Result<Value, String> {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub(super) async fn post(&self, path: &str) -> Result<Value, String> {
        self.send(reqwest::Method::POST, path, None).await
    }

    /// POST with a JSON body.
    pub(super) async fn post_json(&self, path: &str, body: &Value) -> Result<Value, String> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub(super) async fn delete(&self, path: &str) -> Result<Value, String> {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/admin/v1{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let resp = request
            .send()
            .await
            .map_err(|e| unreachable_error(&self.base, &e))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let said = body["error"].as_str().unwrap_or("").to_owned();
        match status {
            s if s.is_success() => Ok(body),
            StatusCode::UNAUTHORIZED => Err(format!(
                "the admin API at {} refused the token (401{}): pass the admin token with --token or SWITCHBOARD_ADMIN_TOKEN",
                self.base,
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                }
            )),
            StatusCode::NOT_FOUND if said.is_empty() => Err(format!(
                "{url}: not found (is {} a Switchboard admin listener?)",
                self.base
            )),
            StatusCode::NOT_FOUND => Err(said),
            s => Err(format!("the admin API answered {s}: {said}")),
        }
    }
}

fn unreachable_error(base: &str, e: &reqwest::Error) -> String {
    if e.is_connect() {
        format!(
            "cannot connect to the admin API at {base}: is `switchboard serve` running there with [admin] token_sha256 set?"
        )
    } else if e.is_timeout() {
        format!("the admin API at {base} did not answer in time")
    } else {
        format!("cannot reach the admin API at {base}: {e}")
    }
}
