//! Allow and deny rules of names (a tenant's `tools`, `resources` and
//! `prompts`): glob patterns with `*` and `?`, deny wins.

use serde::{Deserialize, Serialize};

/// Allowed and denied names (glob patterns with `*` and `?`); deny wins.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Patterns of what may be used. Default `["*"]`: everything.
    pub allow: Vec<String>,
    /// Patterns of what may not be used, even if allowed.
    pub deny: Vec<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            allow: vec!["*".to_owned()],
            deny: Vec::new(),
        }
    }
}

impl Rules {
    /// Whether `name` is allowed: some allow pattern matches and no deny
    /// pattern does.
    pub fn permits(&self, name: &str) -> bool {
        self.allow.iter().any(|p| glob(p, name)) && !self.deny.iter().any(|p| glob(p, name))
    }
}

/// Whether `name` matches `pattern`: `*` is any run of characters (also
/// empty), `?` exactly one, everything else itself.
pub fn glob(pattern: &str, name: &str) -> bool {
    // The usual patterns (`*`, a plain name) without collecting characters:
    // this runs for every call a tenant's rules judge.
    if pattern == "*" {
        return true;
    }
    if !pattern.contains(['*', '?']) {
        return pattern == name;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Greedy match with one backtrack point: linear in practice, no
    // recursion, so a hostile pattern cannot blow the stack.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("*", "anything"));
        assert!(glob("echo", "echo"));
        assert!(!glob("echo", "echo2"));
        assert!(glob("test_*", "test_simple_text"));
        assert!(!glob("test_*", "tes"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
        assert!(glob("?cho", "echo"));
        assert!(glob("*://secret/*", "test://secret/x"));
        assert!(!glob("a*a*a*a*b", &"a".repeat(200)));
    }

    #[test]
    fn deny_wins() {
        let r = Rules {
            allow: vec!["*".into()],
            deny: vec!["admin_*".into()],
        };
        assert!(r.permits("echo"));
        assert!(!r.permits("admin_reset"));
        let none = Rules {
            allow: vec![],
            deny: vec![],
        };
        assert!(!none.permits("echo"));
    }
}
