//! What an upstream lists (tools, prompts, resources, templates), cached
//! between list changes, and which names and URIs that makes its own.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use serde_json::Value;
use serde_json::value::RawValue;

use super::pool::Proc;
use crate::UpstreamError;

/// The result key of each list method.
pub(crate) fn result_key(method: &str) -> &'static str {
    match method {
        "tools/list" => "tools",
        "prompts/list" => "prompts",
        "resources/list" => "resources",
        _ => "resourceTemplates",
    }
}

/// foldhash, seeded per map: these maps are read on every relayed call
/// (SipHash was about 1.6k instructions of one).
type Fast = foldhash::fast::RandomState;

/// The last listing of each method, names already prefixed.
#[derive(Debug, Default)]
pub(crate) struct Lists {
    items: RwLock<HashMap<String, Arc<Vec<Value>>, Fast>>,
    names: RwLock<HashMap<&'static str, HashSet<String, Fast>, Fast>>,
}

impl Lists {
    pub(crate) fn cached(&self, method: &str) -> Option<Arc<Vec<Value>>> {
        self.items.read().get(method).cloned()
    }

    pub(crate) fn store(&self, method: &str, items: Vec<Value>) {
        let field = match method {
            "resources/list" => "uri",
            "resources/templates/list" => "uriTemplate",
            _ => "name",
        };
        let names = items
            .iter()
            .filter_map(|i| i.get(field).and_then(Value::as_str).map(str::to_owned))
            .collect();
        self.names.write().insert(result_key(method), names);
        self.items
            .write()
            .insert(method.to_owned(), Arc::new(items));
    }

    /// Forget every listing (a list changed upstream).
    pub(crate) fn clear(&self) {
        self.items.write().clear();
    }

    /// Whether the last listing of `key` (`tools`, `prompts`, …) has `name`.
    pub(crate) fn has(&self, key: &str, name: &str) -> bool {
        self.names.read().get(key).is_some_and(|n| n.contains(name))
    }

    /// Whether the listing of `method` is cached and has `name` (what
    /// finding it in [`Lists::cached`] would say, without the scan).
    pub(crate) fn has_cached(&self, method: &str, name: &str) -> bool {
        let cached = self.items.read().contains_key(method);
        cached && self.has(result_key(method), name)
    }

    /// Whether `uri` is one of the listed resources or matches a listed
    /// template.
    pub(crate) fn has_resource(&self, uri: &str) -> bool {
        let names = self.names.read();
        names.get("resources").is_some_and(|n| n.contains(uri))
            || names.get("resourceTemplates").is_some_and(|ts| {
                ts.iter()
                    .any(|t| switchboard_runtime::template_matches(t, uri))
            })
    }
}

/// Every page of a list method from `proc`; tool and prompt names get
/// `prefix`. A method the upstream does not have lists nothing.
pub(crate) async fn fetch_all(
    proc: &Proc,
    method: &str,
    prefix: &str,
    timeout: Duration,
    stateless: bool,
) -> Result<Vec<Value>, UpstreamError> {
    let key = result_key(method);
    let rename = matches!(key, "tools" | "prompts");
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let mut params = match &cursor {
            Some(c) => serde_json::json!({"cursor": c}),
            None => serde_json::json!({}),
        };
        let asked = if stateless {
            params["_meta"] = super::stateless::meta(&serde_json::json!({}));
            proc.upstream
                .request_stateless(method, &params, None, timeout)
                .await
        } else {
            let params =
                RawValue::from_string(params.to_string()).map_err(|_| UpstreamError::Closed)?;
            proc.upstream.request(method, Some(&params), timeout).await
        };
        let page = match asked {
            Ok(page) => page,
            Err(UpstreamError::Rpc(e)) if e.code.0 == -32601 && key != "tools" => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        let page: Value = serde_json::from_str(page.get()).unwrap_or(Value::Null);
        for mut item in page[key].as_array().cloned().unwrap_or_default() {
            if rename && let Some(name) = item.get("name").and_then(Value::as_str) {
                item["name"] = Value::String(format!("{prefix}{name}"));
            }
            out.push(item);
        }
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_cached_follows_the_listing_and_its_clearing() {
        let lists = Lists::default();
        assert!(!lists.has_cached("tools/list", "a__echo"));
        lists.store(
            "tools/list",
            vec![
                serde_json::json!({"name": "a__echo"}),
                serde_json::json!({"name": 7}),
            ],
        );
        assert!(lists.has_cached("tools/list", "a__echo"));
        assert!(!lists.has_cached("tools/list", "a__add"));
        assert!(!lists.has_cached("prompts/list", "a__echo"));
        lists.clear();
        assert!(!lists.has_cached("tools/list", "a__echo"));
        // The names outlive the clearing (prefix-less ownership uses them).
        assert!(lists.has("tools", "a__echo"));
    }
}
