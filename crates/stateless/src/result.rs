//! What every stateless result carries: `resultType`, the server's identity
//! in `_meta`, and cache hints on the cacheable results. The same on HTTP
//! and on stdio.

use serde_json::{Map, Value, json};
use switchboard_proto::methods;
use switchboard_proto::version::ALL_SUPPORTED;
use switchboard_runtime::Catalog;

use crate::meta::SERVER_INFO;
use crate::names::{DISCOVER, EXTENSION};

/// How results are shaped: the catalog they describe and how long lists
/// may be cached.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    /// The catalog results describe.
    pub catalog: &'a Catalog,
    /// How long list results may be cached (`ttlMs`).
    pub list_ttl_ms: u64,
    /// Whether the tasks extension is served (HTTP: yes; stdio: no).
    pub tasks: bool,
    /// Who the server says it is, when not the catalog's own info (a
    /// virtual server's).
    pub info: Option<&'a switchboard_runtime::ServerInfo>,
}

impl<'a> Shape<'a> {
    /// Results about `catalog`, lists cached for `list_ttl_ms`, the tasks
    /// extension served or not.
    pub fn new(catalog: &'a Catalog, list_ttl_ms: u64, tasks: bool) -> Self {
        Self {
            catalog,
            list_ttl_ms,
            tasks,
            info: None,
        }
    }

    /// The same results, saying the server is `info` (a virtual server).
    pub fn as_server(self, info: Option<&'a switchboard_runtime::ServerInfo>) -> Self {
        Self { info, ..self }
    }

    fn info(&self) -> &switchboard_runtime::ServerInfo {
        self.info.unwrap_or_else(|| self.catalog.info())
    }

    /// Methods whose results carry `ttlMs` and `cacheScope`.
    fn cache_hint(&self, method: &str) -> Option<(u64, &'static str)> {
        let ttl = self.list_ttl_ms;
        match method {
            methods::TOOLS_LIST
            | methods::PROMPTS_LIST
            | methods::RESOURCES_LIST
            | methods::RESOURCES_TEMPLATES_LIST => Some((ttl, "private")),
            methods::RESOURCES_READ => Some((0, "private")),
            DISCOVER => Some((ttl, "private")),
            _ => None,
        }
    }

    fn server_info(&self) -> Value {
        let info = self.info();
        let mut v = json!({"name": info.name, "version": info.version});
        if let Some(title) = &info.title {
            v["title"] = json!(title);
        }
        v
    }

    /// Put the server's identity in a result's `_meta`.
    pub fn stamp(&self, result: &mut Map<String, Value>) {
        let meta = result.entry("_meta").or_insert_with(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            m.insert(SERVER_INFO.into(), self.server_info());
        }
    }

    /// A handler's result as a complete stateless result.
    pub fn complete(&self, method: &str, result: Value) -> Value {
        let mut map = match result {
            Value::Object(m) => m,
            other => {
                let mut m = Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        map.insert("resultType".into(), json!("complete"));
        if let Some((ttl, scope)) = self.cache_hint(method) {
            map.insert("ttlMs".into(), json!(ttl));
            map.insert("cacheScope".into(), json!(scope));
        }
        self.stamp(&mut map);
        Value::Object(map)
    }

    /// An `input_required` result: what the client must answer, and the
    /// sealed state of the rounds so far.
    pub fn input_required(&self, requests: Map<String, Value>, state: String) -> Value {
        let mut map = Map::new();
        map.insert("resultType".into(), json!("input_required"));
        map.insert("inputRequests".into(), Value::Object(requests));
        map.insert("requestState".into(), json!(state));
        self.stamp(&mut map);
        Value::Object(map)
    }

    /// The `server/discover` result.
    pub fn discover(&self) -> Value {
        let mut capabilities = self.catalog.capabilities();
        if self.tasks {
            capabilities["extensions"] = json!({EXTENSION: {}});
        }
        let mut result = json!({
            "supportedVersions": ALL_SUPPORTED,
            "capabilities": capabilities,
            "serverInfo": self.server_info(),
        });
        if let Some(instructions) = &self.info().instructions {
            result["instructions"] = json!(instructions);
        }
        self.complete(DISCOVER, result)
    }
}
