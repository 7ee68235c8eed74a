//! `[[hooks]]`: guardrail hooks — an HTTP endpoint that sees a tool call
//! before it runs and its result after, and answers allow, deny (with a
//! reason the client sees), or a changed request or result; with a
//! timeout, and a choice of failing open or closed.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// When a hook that cannot answer (timeout, error, a reply it cannot
/// read) lets the call go on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookFailure {
    /// Refuse the call (the default).
    #[default]
    Closed,
    /// Let it go on as it is.
    Open,
}

/// One `[[hooks]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HookConfig {
    /// Names the hook in refusals, metrics and the audit trail: 1-64
    /// letters, digits, `-`, `_` or `.`.
    pub name: String,
    /// Where it is asked (`http://` or `https://`).
    pub url: String,
    /// `before` (the call's arguments), `after` (its result), or both
    /// (the default).
    pub stages: Vec<String>,
    /// The tools it looks at (globs of the catalog's names). Default: all.
    pub tools: Vec<String>,
    /// The tenants whose calls it looks at. Default: every tenant.
    pub tenants: Vec<String>,
    /// How long it may take to answer, in milliseconds (1-60000). Default
    /// 2000.
    pub timeout_ms: u64,
    /// What a failure does: `closed` (refuse; the default) or `open`.
    pub failure: HookFailure,
    /// Headers sent to it (its own credential), as secrets.
    pub headers: BTreeMap<String, Secret>,
}

impl Default for HookConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            url: String::new(),
            stages: vec!["before".into(), "after".into()],
            tools: vec!["*".into()],
            tenants: Vec::new(),
            timeout_ms: 2000,
            failure: HookFailure::Closed,
            headers: BTreeMap::new(),
        }
    }
}

/// Every hook valid, no name twice, only configured tenants.
pub(crate) fn validate(
    hooks: &[HookConfig],
    tenants: &HashSet<&str>,
) -> Result<(), (String, String)> {
    let mut names = HashSet::new();
    for (i, h) in hooks.iter().enumerate() {
        let key = |k: &str| format!("hooks[{i}].{k}");
        crate::tenants::validate_id(&h.name).map_err(|m| (key("name"), m))?;
        if !names.insert(h.name.as_str()) {
            return Err((key("name"), format!("hook {:?} is defined twice", h.name)));
        }
        if !(h.url.starts_with("http://") || h.url.starts_with("https://"))
            || h.url.parse::<http::Uri>().is_err()
        {
            return Err((key("url"), "an http:// or https:// URL".into()));
        }
        if h.stages.is_empty() || h.stages.iter().any(|s| s != "before" && s != "after") {
            return Err((key("stages"), "\"before\", \"after\" or both".into()));
        }
        if !(1..=60_000).contains(&h.timeout_ms) {
            return Err((key("timeout_ms"), "1 to 60000".into()));
        }
        if let Some(t) = h.tenants.iter().find(|t| !tenants.contains(t.as_str())) {
            return Err((key("tenants"), format!("no tenant {t:?} is configured")));
        }
        if let Some(n) = h
            .headers
            .keys()
            .find(|n| http::HeaderName::from_bytes(n.as_bytes()).is_err())
        {
            return Err((key("headers"), format!("{n:?} is not a header name")));
        }
    }
    Ok(())
}
