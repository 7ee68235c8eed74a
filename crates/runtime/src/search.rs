//! Progressive discovery: for a caller whose tools are found by search (a
//! virtual server with `search = true`), `tools/list` lists one tool,
//! [`SEARCH_TOOL`], which finds the others by the words of their names
//! and descriptions and returns their definitions; every tool stays
//! callable by name.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_proto::RpcError;
use switchboard_proto::params::{self, ToolCall};

use crate::catalog::Catalog;
use crate::context::RequestContext;

/// The search tool's name.
pub const SEARCH_TOOL: &str = "search_tools";

/// Most definitions one search returns.
const MAX_LIMIT: usize = 50;

/// The search tool's definition.
pub(crate) fn definition() -> Value {
    json!({
        "name": SEARCH_TOOL,
        "title": "Search tools",
        "description": "Find the tools this server offers by words in their names and \
            descriptions; returns their definitions (call them by name). Start here: \
            the tool list shows only this tool.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Words to look for, e.g. \"create issue\""},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 10}
            },
            "required": ["query"]
        },
        "annotations": {"readOnlyHint": true, "idempotentHint": true}
    })
}

#[derive(Deserialize)]
struct Query {
    query: String,
    #[serde(default)]
    limit: Option<usize>,
}

/// How well `tool` answers `words`: 3 per word in its name, 1 per word in
/// its title or description; 0: not at all.
fn score(tool: &Value, words: &[String]) -> usize {
    let text = |k: &str| {
        tool.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_lowercase()
    };
    let (name, about) = (
        text("name"),
        format!("{} {}", text("title"), text("description")),
    );
    words
        .iter()
        .map(|w| {
            3 * usize::from(name.contains(w.as_str())) + usize::from(about.contains(w.as_str()))
        })
        .sum()
}

/// The best of `tools` for `query`, at most `limit`.
pub(crate) fn rank(tools: Vec<Value>, query: &str, limit: usize) -> Vec<Value> {
    let words: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut scored: Vec<(usize, Value)> = tools
        .into_iter()
        .map(|t| (score(&t, &words), t))
        .filter(|(s, _)| *s > 0)
        .collect();
    scored.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| a.1["name"].as_str().cmp(&b.1["name"].as_str()))
    });
    scored.into_iter().take(limit).map(|(_, t)| t).collect()
}

impl Catalog {
    /// Whether this request is a call of the search tool by a caller whose
    /// tools are found by search.
    pub(crate) fn is_search(
        &self,
        method: &str,
        params: Option<&RawValue>,
        ctx: &RequestContext,
    ) -> bool {
        method == switchboard_proto::methods::TOOLS_CALL
            && ctx.caller().access.searches()
            && ToolCall::read(params).is_ok_and(|c| c.name == SEARCH_TOOL)
    }

    /// Answer a call of the search tool: the definitions (as the caller
    /// sees them) that best match its query.
    pub(crate) async fn search(
        &self,
        params: Option<&RawValue>,
        ctx: &RequestContext,
    ) -> Result<Value, RpcError> {
        let call = ToolCall::read(params)?;
        let q: Query = params::parse("tools/call", call.arguments)
            .map_err(|e| RpcError::invalid_params(format!("{SEARCH_TOOL}: {}", e.message)))?;
        let limit = q.limit.unwrap_or(10).clamp(1, MAX_LIMIT);
        let found = rank(self.visible_tools(ctx).await, &q.query, limit);
        let text = serde_json::to_string(&found).unwrap_or_default();
        Ok(json!({
            "content": [{"type": "text", "text": text}],
            "structuredContent": {"tools": found},
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_count_more_than_descriptions() {
        let tools = vec![
            json!({"name": "create_issue", "description": "Open a GitHub issue"}),
            json!({"name": "list_prs", "description": "List pull requests; see also issue links"}),
            json!({"name": "now", "description": "The time"}),
        ];
        let found = rank(tools, "Issue", 10);
        let names: Vec<_> = found.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["create_issue", "list_prs"]);
        assert!(rank(vec![json!({"name": "a"})], "zzz", 10).is_empty());
    }
}
