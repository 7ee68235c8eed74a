//! `[redact]`: the redactor that masks secrets in results before they
//! reach the client.

use serde::{Deserialize, Serialize};
use switchboard_policy::Redactor;

/// `[redact]` as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactConfig {
    /// Mask secrets in the results of calls, reads and prompts. Default
    /// off.
    pub enabled: bool,
    /// Use the built-in patterns (cloud keys, tokens, private keys).
    /// Default on.
    pub builtin: bool,
    /// More patterns: `{ name, regex }`.
    pub patterns: Vec<RedactPattern>,
}

impl Default for RedactConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            builtin: true,
            patterns: Vec::new(),
        }
    }
}

/// One pattern of the configuration's own.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedactPattern {
    /// Names the pattern in the mask (`[redacted:<name>]`), metrics and
    /// the audit trail: 1-64 letters, digits, `-`, `_` or `.`.
    pub name: String,
    /// A regular expression (the `regex` crate's syntax), at most 1 KiB.
    pub regex: String,
}

impl RedactConfig {
    /// The redactor, if enabled; the error is the key and what is wrong.
    pub fn redactor(&self) -> Result<Option<Redactor>, (String, String)> {
        if !self.enabled {
            return Ok(None);
        }
        for (i, p) in self.patterns.iter().enumerate() {
            crate::tenants::validate_id(&p.name)
                .map_err(|m| (format!("redact.patterns[{i}].name"), m))?;
        }
        let custom: Vec<(String, String)> = self
            .patterns
            .iter()
            .map(|p| (p.name.clone(), p.regex.clone()))
            .collect();
        if !self.builtin && custom.is_empty() {
            return Err((
                "redact.patterns".into(),
                "give patterns, or keep the built-in ones".into(),
            ));
        }
        Redactor::new(self.builtin, &custom)
            .map(Some)
            .map_err(|(i, e)| (format!("redact.patterns[{i}].regex"), e))
    }
}
