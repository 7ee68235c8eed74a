//! The redactor: masks secrets (cloud keys, tokens, private keys, and the
//! configuration's own patterns) in the strings of a result before it
//! reaches the client.

use std::fmt;
use std::sync::Arc;

use regex::{Regex, RegexSet};
use serde_json::Value;

/// The built-in patterns: a name, and a regular expression of the secret.
/// Names are stable (they label metrics and audit lines).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "private_key",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----",
    ),
    (
        "aws_access_key_id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
    ),
    (
        "aws_secret_access_key",
        r#"(?i)aws_?secret_?access_?key["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}"#,
    ),
    (
        "github_token",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b",
    ),
    ("github_pat", r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"),
    ("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}\b"),
    ("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    (
        "stripe_key",
        r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}\b",
    ),
    ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    ("openai_key", r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{32,}"),
    (
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    ),
];

/// Longest pattern accepted from the configuration, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// Compiled patterns, and a set of them all to skip clean strings with
/// one pass.
#[derive(Clone)]
pub struct Redactor {
    names: Vec<Arc<str>>,
    patterns: Vec<Regex>,
    any: RegexSet,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Redactor").field(&self.names).finish()
    }
}

impl Redactor {
    /// The built-in patterns (if `builtin`) and `custom` ones (name,
    /// expression); the error is the index in `custom` of a pattern that
    /// does not compile, and why.
    pub fn new(builtin: bool, custom: &[(String, String)]) -> Result<Self, (usize, String)> {
        let mut names = Vec::new();
        let mut sources = Vec::new();
        if builtin {
            for (name, source) in BUILTIN {
                names.push(Arc::from(*name));
                sources.push((*source).to_owned());
            }
        }
        for (i, (name, source)) in custom.iter().enumerate() {
            if source.len() > MAX_PATTERN_BYTES {
                return Err((i, format!("longer than {MAX_PATTERN_BYTES} bytes")));
            }
            Regex::new(source).map_err(|e| (i, e.to_string()))?;
            names.push(Arc::from(name.as_str()));
            sources.push(source.clone());
        }
        let patterns = sources
            .iter()
            .map(|s| Regex::new(s).map_err(|e| (0, e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let any = RegexSet::new(&sources).map_err(|e| (0, e.to_string()))?;
        Ok(Self {
            names,
            patterns,
            any,
        })
    }

    /// Mask every match in the strings of `value` (object keys aside, and
    /// the base64 of binary content) with `[redacted:<name>]`; the names
    /// of the patterns that matched, once each.
    pub fn redact(&self, value: &mut Value) -> Vec<Arc<str>> {
        let mut hits = Vec::new();
        self.walk(value, &mut hits);
        hits.sort_unstable();
        hits.dedup();
        hits.into_iter().map(|i| self.names[i].clone()).collect()
    }

    fn walk(&self, value: &mut Value, hits: &mut Vec<usize>) {
        match value {
            Value::String(s) => self.mask(s, hits),
            Value::Array(items) => items.iter_mut().for_each(|v| self.walk(v, hits)),
            Value::Object(map) => {
                let binary = matches!(
                    map.get("type").and_then(Value::as_str),
                    Some("image" | "audio")
                );
                for (key, v) in map.iter_mut() {
                    if key == "blob" || (binary && key == "data") {
                        continue;
                    }
                    self.walk(v, hits);
                }
            }
            _ => {}
        }
    }

    fn mask(&self, s: &mut String, hits: &mut Vec<usize>) {
        let matched = self.any.matches(s);
        if !matched.matched_any() {
            return;
        }
        for i in matched.iter() {
            let mask = format!("[redacted:{}]", self.names[i]);
            let replaced = self.patterns[i].replace_all(s, regex::NoExpand(&mask));
            if let std::borrow::Cow::Owned(new) = replaced {
                *s = new;
                hits.push(i);
            }
        }
    }
}
