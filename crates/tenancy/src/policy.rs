//! A tenant's compiled policy: which tools, resources and prompts it may see
//! and use (the configured [`Rules`]), and the scopes some tools need.

use std::collections::BTreeMap;

use switchboard_config::{Rules, glob};
use switchboard_runtime::Access;

/// What one tenant may see and use.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub(crate) tools: Rules,
    pub(crate) resources: Rules,
    pub(crate) prompts: Rules,
    /// Tool patterns and the scopes a caller needs to call them.
    pub(crate) tool_scopes: BTreeMap<String, Vec<String>>,
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
