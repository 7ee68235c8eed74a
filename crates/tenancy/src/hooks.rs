//! Guardrail hooks (`[[hooks]]`): each is asked over HTTP about the tool
//! calls it looks at — before the call with its arguments, after it with
//! its result too — and answers allow, deny with a reason, or what the
//! arguments or the result become. It sees the tenant, subject and scopes
//! of the caller, never a credential or a session id. A hook that does not
//! answer in time, fails, or answers what cannot be read fails open or
//! closed as configured.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_config::{HookConfig, HookFailure, Secret, glob};
use switchboard_runtime::{GuardedCall, Refusal, Stage};

/// One hook, ready to ask.
#[derive(Debug)]
pub(crate) struct Hook {
    name: Arc<str>,
    url: String,
    before: bool,
    after: bool,
    tools: Vec<String>,
    tenants: Vec<String>,
    timeout: Duration,
    fail_open: bool,
    headers: Vec<(http::HeaderName, Secret)>,
    client: reqwest::Client,
}

/// What a hook said.
#[derive(Debug)]
pub(crate) enum Verdict {
    Allow,
    Deny(String),
    /// The arguments (before) or the result (after) to go on with.
    Modify(Value),
    /// It could not be asked, or its answer read: why.
    Failed(String),
}

impl Hook {
    pub(crate) fn new(c: &HookConfig, client: reqwest::Client) -> Self {
        Self {
            name: Arc::from(c.name.as_str()),
            url: c.url.clone(),
            before: c.stages.iter().any(|s| s == "before"),
            after: c.stages.iter().any(|s| s == "after"),
            tools: c.tools.clone(),
            tenants: c.tenants.clone(),
            timeout: Duration::from_millis(c.timeout_ms),
            fail_open: c.failure == HookFailure::Open,
            // Checked when the configuration was read.
            headers: c
                .headers
                .iter()
                .filter_map(|(k, v)| {
                    Some((http::HeaderName::from_bytes(k.as_bytes()).ok()?, v.clone()))
                })
                .collect(),
            client,
        }
    }

    /// Its name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether a failure lets the call go on.
    pub(crate) fn fails_open(&self) -> bool {
        self.fail_open
    }

    /// Whether it applies to `tenant` at all.
    pub(crate) fn covers_tenant(&self, tenant: &str) -> bool {
        self.tenants.is_empty() || self.tenants.iter().any(|t| t == tenant)
    }

    /// Whether it looks at calls of `tool` at `stage`.
    pub(crate) fn looks_at(&self, stage: Stage, tool: &str) -> bool {
        let staged = match stage {
            Stage::Before => self.before,
            Stage::After => self.after,
        };
        staged && self.tools.iter().any(|p| glob(p, tool))
    }

    /// Ask it about `call` at `stage`.
    pub(crate) async fn ask(&self, stage: Stage, call: &GuardedCall<'_>) -> Verdict {
        let caller = call.caller;
        let mut body = json!({
            "stage": stage.as_str(),
            "tool": call.tool,
            "arguments": call.arguments,
            "tenant": &*caller.tenant,
            "subject": &*caller.subject,
            "scopes": &*caller.scopes,
        });
        if let Some(result) = call.result {
            body["result"] = result.clone();
        }
        let mut request = self
            .client
            .post(&self.url)
            .timeout(self.timeout)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        for (name, value) in &self.headers {
            request = request.header(name, value.expose());
        }
        let answer = match request.send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => return Verdict::Failed(format!("it answered HTTP {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => {
                return Verdict::Failed(format!(
                    "no answer within {} ms",
                    self.timeout.as_millis()
                ));
            }
            Err(e) => return Verdict::Failed(format!("cannot reach it: {e}")),
        };
        // A verdict is small; a larger reply is not one.
        let bytes = match answer.bytes().await {
            Ok(b) if b.len() <= 16 << 20 => b,
            Ok(_) => return Verdict::Failed("its answer is larger than 16 MiB".into()),
            Err(e) => return Verdict::Failed(format!("its answer could not be read: {e}")),
        };
        verdict(stage, &bytes)
    }
}

/// Read a hook's answer: `{"decision": "allow" | "deny" | "modify", …}`.
pub(crate) fn verdict(stage: Stage, bytes: &[u8]) -> Verdict {
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return Verdict::Failed("its answer is not JSON".into());
    };
    let field = match stage {
        Stage::Before => "arguments",
        Stage::After => "result",
    };
    match v.get("decision").and_then(Value::as_str) {
        Some("allow") => Verdict::Allow,
        Some("deny") => Verdict::Deny(
            v.get("reason")
                .and_then(Value::as_str)
                .unwrap_or("refused by a guardrail")
                .chars()
                .take(1024)
                .collect(),
        ),
        Some("modify") => match v.get(field) {
            Some(changed @ Value::Object(_)) => Verdict::Modify(changed.clone()),
            _ => Verdict::Failed(format!("a \"modify\" answer needs an object \"{field}\"")),
        },
        _ => Verdict::Failed("its answer has no \"decision\" of allow, deny or modify".into()),
    }
}

/// Ask every hook of `stage` that looks at the call, in order, each seeing
/// what the one before made of it. `Ok(Some(v))`: the arguments or result
/// changed to `v`.
pub(crate) async fn run(
    hooks: &[Arc<Hook>],
    stage: Stage,
    call: GuardedCall<'_>,
    report: &(dyn Fn(&str, Stage, &'static str) + Sync),
) -> Result<Option<Value>, Refusal> {
    let mut changed: Option<Value> = None;
    for hook in hooks.iter().filter(|h| h.looks_at(stage, call.tool)) {
        let current = GuardedCall {
            arguments: match (stage, &changed) {
                (Stage::Before, Some(v)) => v,
                _ => call.arguments,
            },
            result: match (stage, &changed) {
                (Stage::After, Some(v)) => Some(v),
                _ => call.result,
            },
            ..call
        };
        let refuse = |reason: String| Refusal {
            rule: Arc::from(format!("hook:{}", hook.name())),
            reason,
        };
        match hook.ask(stage, &current).await {
            Verdict::Allow => report(hook.name(), stage, "allow"),
            Verdict::Modify(v) => {
                report(hook.name(), stage, "modify");
                changed = Some(v);
            }
            Verdict::Deny(reason) => {
                report(hook.name(), stage, "deny");
                return Err(refuse(reason));
            }
            Verdict::Failed(why) if hook.fails_open() => {
                tracing::warn!(
                    hook = hook.name(),
                    stage = stage.as_str(),
                    why,
                    "guardrail hook failed: the call goes on (fails open)"
                );
                report(hook.name(), stage, "failed_open");
            }
            Verdict::Failed(why) => {
                tracing::warn!(
                    hook = hook.name(),
                    stage = stage.as_str(),
                    why,
                    "guardrail hook failed: the call is refused (fails closed)"
                );
                report(hook.name(), stage, "failed_closed");
                return Err(refuse(format!("guardrail {} failed: {why}", hook.name())));
            }
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_strictly() {
        assert!(matches!(
            verdict(Stage::Before, br#"{"decision":"allow"}"#),
            Verdict::Allow
        ));
        assert!(
            matches!(verdict(Stage::Before, br#"{"decision":"deny","reason":"no"}"#), Verdict::Deny(r) if r == "no")
        );
        assert!(matches!(
            verdict(
                Stage::Before,
                br#"{"decision":"modify","arguments":{"a":1}}"#
            ),
            Verdict::Modify(_)
        ));
        assert!(matches!(
            verdict(
                Stage::After,
                br#"{"decision":"modify","arguments":{"a":1}}"#
            ),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            verdict(Stage::After, br#"{"decision":"modify","result":[]}"#),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            verdict(Stage::After, b"allow"),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            verdict(Stage::After, br#"{"decision":"maybe"}"#),
            Verdict::Failed(_)
        ));
    }
}
