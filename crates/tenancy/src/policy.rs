//! A tenant's compiled policy: which tools, resources and prompts it may see
//! and use (the configured [`Rules`]), the scopes some tools need, and the
//! `[[policies]]` rules that judge its requests by their arguments and
//! caller.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use switchboard_config::{PolicyRule, Redactor, Rules, glob};
use switchboard_policy::Facts;
use switchboard_runtime::{Access, BoxFuture, GuardedCall, Judged, Refusal, Stage};

/// What one tenant may see and use.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub(crate) tools: Rules,
    pub(crate) resources: Rules,
    pub(crate) prompts: Rules,
    /// Tool patterns and the scopes a caller needs to call them.
    pub(crate) tool_scopes: BTreeMap<String, Vec<String>>,
    /// The `[[policies]]` that apply to the tenant, in order.
    pub(crate) rules: Vec<PolicyRule>,
    /// The redactor of secrets in results (`[redact]`), if enabled.
    pub(crate) redactor: Option<Arc<Redactor>>,
    /// The guardrail hooks that look at the tenant's calls, in order.
    pub(crate) hooks: Vec<Arc<crate::hooks::Hook>>,
}

impl Policy {
    /// The scopes calling `tool` needs (from every matching pattern).
    pub fn scopes_for(&self, tool: &str) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .tool_scopes
            .iter()
            .filter(|(p, _)| glob(p, tool))
            .flat_map(|(_, s)| s.iter().map(String::as_str))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

impl Access for Policy {
    fn tool(&self, name: &str) -> bool {
        self.tools.permits(name)
    }
    fn resource(&self, uri: &str) -> bool {
        self.resources.permits(uri)
    }
    fn prompt(&self, name: &str) -> bool {
        self.prompts.permits(name)
    }
    fn redact(&self, result: &mut Value) -> Vec<Arc<str>> {
        self.redact_result(result)
    }
    fn judges(&self) -> bool {
        !self.rules.is_empty()
    }
    fn guards(&self) -> bool {
        !self.hooks.is_empty()
    }
    fn guard<'a>(
        &'a self,
        stage: Stage,
        call: GuardedCall<'a>,
        report: &'a (dyn Fn(&str, Stage, &'static str) + Sync),
    ) -> BoxFuture<'a, Result<Option<Value>, Refusal>> {
        Box::pin(crate::hooks::run(&self.hooks, stage, call, report))
    }
    fn judge(&self, request: &Judged<'_>) -> Result<(), Refusal> {
        let mut applying = self
            .rules
            .iter()
            .filter(|r| r.judges(request.method, request.name))
            .peekable();
        if applying.peek().is_none() {
            return Ok(());
        }
        let args = arguments(request)?;
        let annotations = if self.rules.iter().any(PolicyRule::reads_annotations) {
            (request.annotations)().unwrap_or_else(|| Value::Object(Map::new()))
        } else {
            Value::Object(Map::new())
        };
        let none = Map::new();
        let caller = request.caller;
        let facts = Facts {
            method: request.method,
            name: request.name,
            args: &args,
            annotations: &annotations,
            tenant: &caller.tenant,
            subject: &caller.subject,
            scopes: &caller.scopes,
            claims: caller.claims.as_deref().unwrap_or(&none),
        };
        applying.try_for_each(|rule| {
            rule.decide(&facts).map_err(|d| Refusal {
                rule: d.rule,
                reason: d.reason,
            })
        })
    }
}

impl Policy {
    fn redact_result(&self, result: &mut Value) -> Vec<Arc<str>> {
        self.redactor
            .as_ref()
            .map_or_else(Vec::new, |r| r.redact(result))
    }
}

/// The request's arguments as a policy reads them: an object (empty when
/// none were sent); anything else is refused, as the handler would.
fn arguments(request: &Judged<'_>) -> Result<Value, Refusal> {
    let refuse = |reason: String| Refusal {
        rule: "arguments".into(),
        reason,
    };
    match request.arguments {
        None => Ok(Value::Object(Map::new())),
        Some(raw) => match serde_json::from_str::<Value>(raw.get()) {
            Ok(Value::Null) => Ok(Value::Object(Map::new())),
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(refuse(format!(
                "{}: arguments must be an object",
                request.method
            ))),
            Err(e) => Err(refuse(format!("{}: arguments: {e}", request.method))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_collect_from_every_matching_pattern() {
        let p = Policy {
            tool_scopes: [
                ("write_*".to_owned(), vec!["tools:write".to_owned()]),
                ("*".to_owned(), vec!["tools:call".to_owned()]),
            ]
            .into(),
            ..Policy::default()
        };
        assert_eq!(p.scopes_for("write_x"), vec!["tools:call", "tools:write"]);
        assert_eq!(p.scopes_for("echo"), vec!["tools:call"]);
    }
}
