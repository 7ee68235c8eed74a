//! `[[policies]]`: rules in CEL that allow or deny a tool call, a resource
//! read or a prompt by its arguments and the caller (tenant, subject,
//! scopes, JWT claims), compiled when the configuration is read.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use switchboard_policy::{Condition, Facts};

use crate::rules::glob;

/// One `[[policies]]` entry as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Names the rule in errors, refusals, metrics and the audit trail:
    /// 1-64 letters, digits, `-`, `_` or `.`.
    pub name: String,
    /// Tools it judges (globs of the names clients see).
    pub tools: Vec<String>,
    /// Resources it judges (globs of URIs).
    pub resources: Vec<String>,
    /// Prompts it judges (globs of names).
    pub prompts: Vec<String>,
    /// The tenants it applies to. Default: every tenant.
    pub tenants: Vec<String>,
    /// A CEL expression the request must satisfy (refused when false).
    pub allow_if: Option<String>,
    /// A CEL expression that refuses the request when true.
    pub deny_if: Option<String>,
    /// What a refused client is told. Default: the rule's name.
    pub message: Option<String>,
}

/// A policy rule compiled: what it judges and how.
#[derive(Debug, Clone)]
pub struct PolicyRule {
    /// The rule's name.
    pub name: Arc<str>,
    tools: Vec<String>,
    resources: Vec<String>,
    prompts: Vec<String>,
    tenants: Vec<String>,
    condition: Condition,
    /// Whether the condition allows (`allow_if`) or refuses (`deny_if`).
    allows: bool,
    message: Option<String>,
}

/// A request a rule refused, or could not decide (which refuses it too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The rule.
    pub rule: Arc<str>,
    /// What the client is told.
    pub reason: String,
}

impl PolicyConfig {
    /// Compile the entry; the error is the key within it and what is wrong.
    pub fn compile(&self) -> Result<PolicyRule, (String, String)> {
        let (key, source, allows) = match (&self.allow_if, &self.deny_if) {
            (Some(s), None) => ("allow_if", s, true),
            (None, Some(s)) => ("deny_if", s, false),
            _ => {
                return Err((
                    "allow_if".into(),
                    "give exactly one of allow_if and deny_if".into(),
                ));
            }
        };
        if self.tools.is_empty() && self.resources.is_empty() && self.prompts.is_empty() {
            return Err((
                "tools".into(),
                "name the tools, resources or prompts the rule judges".into(),
            ));
        }
        let condition = Condition::compile(source)
            .map_err(|e| (key.to_owned(), format!("policy {:?}: {e}", self.name)))?;
        Ok(PolicyRule {
            name: Arc::from(self.name.as_str()),
            tools: self.tools.clone(),
            resources: self.resources.clone(),
            prompts: self.prompts.clone(),
            tenants: self.tenants.clone(),
            condition,
            allows,
            message: self.message.clone(),
        })
    }
}

impl PolicyRule {
    /// Whether the rule applies to `tenant` at all.
    pub fn covers_tenant(&self, tenant: &str) -> bool {
        self.tenants.is_empty() || self.tenants.iter().any(|t| t == tenant)
    }

    /// Whether the rule judges a request of `method` naming `name`.
    pub fn judges(&self, method: &str, name: &str) -> bool {
        let patterns = match method {
            "tools/call" => &self.tools,
            "resources/read" => &self.resources,
            "prompts/get" => &self.prompts,
            _ => return false,
        };
        patterns.iter().any(|p| glob(p, name))
    }

    /// Whether deciding reads the tool's annotations.
    pub fn reads_annotations(&self) -> bool {
        self.condition.reads_annotations()
    }

    /// Judge one request the rule applies to: `Err` refuses it.
    pub fn decide(&self, facts: &Facts<'_>) -> Result<(), Denial> {
        let deny = |reason: String| Denial {
            rule: self.name.clone(),
            reason,
        };
        match self.condition.holds(facts) {
            Ok(holds) if holds == self.allows => Ok(()),
            Ok(_) => {
                Err(deny(self.message.clone().unwrap_or_else(|| {
                    format!("refused by policy {:?}", self.name)
                })))
            }
            Err(why) => Err(deny(format!(
                "policy {:?} could not decide: {why}",
                self.name
            ))),
        }
    }
}

/// Every entry valid, no name twice, and only configured tenants named.
pub(crate) fn validate(
    policies: &[PolicyConfig],
    tenants: &HashSet<&str>,
) -> Result<(), (String, String)> {
    let mut seen = HashSet::new();
    for (i, p) in policies.iter().enumerate() {
        let key = |k: &str| format!("policies[{i}].{k}");
        crate::tenants::validate_id(&p.name).map_err(|m| (key("name"), m))?;
        if !seen.insert(p.name.as_str()) {
            return Err((key("name"), format!("policy {:?} is defined twice", p.name)));
        }
        if let Some(t) = p.tenants.iter().find(|t| !tenants.contains(t.as_str())) {
            return Err((key("tenants"), format!("no tenant {t:?} is configured")));
        }
        p.compile().map_err(|(k, m)| (key(&k), m))?;
    }
    Ok(())
}
