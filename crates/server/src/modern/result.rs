//! What every stateless result carries: `resultType`, the server's identity
//! in `_meta`, and cache hints on the cacheable results.

use serde_json::{Map, Value, json};
use switchboard_proto::methods;
use switchboard_proto::version::ALL_SUPPORTED;

use crate::app::App;
use crate::modern::meta::SERVER_INFO;

/// Methods whose results carry `ttlMs` and `cacheScope`.
fn cache_hint(app: &App, method: &str) -> Option<(u64, &'static str)> {
    let ttl = app.config().list_ttl_ms;
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

pub(crate) const DISCOVER: &str = "server/discover";

fn server_info(app: &App) -> Value {
    let info = app.catalog().info();
    let mut v = json!({"name": info.name, "version": info.version});
    if let Some(title) = &info.title {
        v["title"] = json!(title);
    }
    v
}

/// Add `_meta[serverInfo]` to a result object.
fn stamp(app: &App, result: &mut Map<String, Value>) {
    let meta = result.entry("_meta").or_insert_with(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.insert(SERVER_INFO.into(), server_info(app));
    }
}

/// A complete result of `method`.
pub(crate) fn complete(app: &App, method: &str, result: Value) -> Value {
    let mut map = match result {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            m
        }
    };
    map.insert("resultType".into(), json!("complete"));
    if let Some((ttl, scope)) = cache_hint(app, method) {
        map.insert("ttlMs".into(), json!(ttl));
        map.insert("cacheScope".into(), json!(scope));
    }
    stamp(app, &mut map);
    Value::Object(map)
}

/// An `input_required` result asking for `requests`, carrying `state`.
pub(crate) fn input_required(app: &App, requests: Map<String, Value>, state: String) -> Value {
    let mut map = Map::new();
    map.insert("resultType".into(), json!("input_required"));
    map.insert("inputRequests".into(), Value::Object(requests));
    map.insert("requestState".into(), json!(state));
    stamp(app, &mut map);
    Value::Object(map)
}

/// The result of `server/discover`.
pub(crate) fn discover(app: &App) -> Value {
    let catalog = app.catalog();
    let mut result = json!({
        "supportedVersions": ALL_SUPPORTED,
        "capabilities": catalog.capabilities(),
        "serverInfo": server_info(app),
    });
    if let Some(instructions) = &catalog.info().instructions {
        result["instructions"] = json!(instructions);
    }
    complete(app, DISCOVER, result)
}
