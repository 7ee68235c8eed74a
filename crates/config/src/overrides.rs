//! `[[servers.overrides]]`: how a virtual server presents one tool — a
//! name, title, description and annotations of its own, arguments hidden
//! and fixed, defaults, argument schemas narrowed — while the tool gets
//! its own name and complete arguments. Compiled when the configuration
//! is read (a narrowed schema that is not one fails the load).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One override as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolOverride {
    /// The tool, by the catalog's name (an upstream's prefix included).
    pub tool: String,
    /// The name the server's clients see instead. Default: the same.
    pub name: Option<String>,
    /// Replaces the tool's `title`.
    pub title: Option<String>,
    /// Replaces the tool's `description`.
    pub description: Option<String>,
    /// Replaces the tool's `annotations`.
    pub annotations: Option<Value>,
    /// Arguments hidden from the client and given these values on every
    /// call (a client that sends one is refused).
    pub fixed: BTreeMap<String, Value>,
    /// Values of arguments the client leaves out (shown as the schema's
    /// `default`; no longer required).
    pub defaults: BTreeMap<String, Value>,
    /// Arguments' schemas narrowed: each is merged over the argument's own
    /// schema in the listing, and a value that does not satisfy it is
    /// refused before the tool is called (`{ enum = ["site", "api"] }`).
    pub schemas: BTreeMap<String, Value>,
}

/// An override compiled: its narrowed schemas ready to validate.
#[derive(Debug, Clone)]
pub struct CompiledOverride {
    /// As written.
    pub spec: Arc<ToolOverride>,
    validators: Arc<Vec<(String, jsonschema::Validator)>>,
}

/// A call the override refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentError(pub String);

impl ToolOverride {
    /// The name clients see.
    pub fn client_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.tool)
    }

    /// Compile; the error is the key within the entry and what is wrong.
    pub fn compile(&self) -> Result<CompiledOverride, (String, String)> {
        if self.tool.is_empty() {
            return Err(("tool".into(), "name the tool it overrides".into()));
        }
        if let Some(n) = &self.name
            && (n.is_empty() || n.len() > 128)
        {
            return Err(("name".into(), "1-128 characters".into()));
        }
        if let Some(k) = self.fixed.keys().find(|k| self.defaults.contains_key(*k)) {
            return Err((
                format!("defaults.{k}"),
                "an argument is fixed or has a default, not both".into(),
            ));
        }
        if let Some(a) = &self.annotations
            && !a.is_object()
        {
            return Err(("annotations".into(), "a table".into()));
        }
        let mut validators = Vec::new();
        for (arg, schema) in &self.schemas {
            if !schema.is_object() {
                return Err((format!("schemas.{arg}"), "a JSON Schema (a table)".into()));
            }
            let v = jsonschema::validator_for(schema)
                .map_err(|e| (format!("schemas.{arg}"), format!("not a valid schema: {e}")))?;
            validators.push((arg.clone(), v));
        }
        Ok(CompiledOverride {
            spec: Arc::new(self.clone()),
            validators: Arc::new(validators),
        })
    }
}

impl CompiledOverride {
    /// `definition` (the tool as the catalog lists it) as the server's
    /// clients see it.
    pub fn present(&self, definition: &mut Value) {
        let o = &*self.spec;
        let Some(d) = definition.as_object_mut() else {
            return;
        };
        d.insert("name".into(), Value::String(o.client_name().to_owned()));
        let replace = [
            ("title", o.title.clone().map(Value::String)),
            ("description", o.description.clone().map(Value::String)),
            ("annotations", o.annotations.clone()),
        ];
        for (key, value) in replace {
            if let Some(v) = value {
                d.insert(key.into(), v);
            }
        }
        let Some(schema) = d.get_mut("inputSchema").and_then(Value::as_object_mut) else {
            return;
        };
        let unrequire: Vec<&String> = o.fixed.keys().chain(o.defaults.keys()).collect();
        if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|r| {
                !r.as_str()
                    .is_some_and(|r| unrequire.iter().any(|u| *u == r))
            });
        }
        let properties = schema
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(properties) = properties.as_object_mut() else {
            return;
        };
        for k in o.fixed.keys() {
            properties.remove(k);
        }
        for (k, v) in &o.defaults {
            property(properties, k).insert("default".into(), v.clone());
        }
        for (k, narrowed) in &o.schemas {
            if let Some(narrowed) = narrowed.as_object() {
                let p = property(properties, k);
                for (key, v) in narrowed {
                    p.insert(key.clone(), v.clone());
                }
            }
        }
    }

    /// The arguments the tool gets for the client's `arguments` (an
    /// object, or none): fixed values given (a client that sends one is
    /// refused), defaults filled in, narrowed arguments checked.
    pub fn arguments(&self, arguments: Option<Value>) -> Result<Value, ArgumentError> {
        let o = &*self.spec;
        let mut args = match arguments {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(ArgumentError("arguments must be an object".into())),
        };
        if let Some(k) = o.fixed.keys().find(|k| args.contains_key(*k)) {
            return Err(ArgumentError(format!(
                "argument {k:?} is set by the server and may not be given"
            )));
        }
        for (k, v) in &o.defaults {
            args.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, validator) in self.validators.iter() {
            if let Some(value) = args.get(k)
                && let Err(e) = validator.validate(value)
            {
                return Err(ArgumentError(format!("argument {k:?}: {e}")));
            }
        }
        for (k, v) in &o.fixed {
            args.insert(k.clone(), v.clone());
        }
        Ok(Value::Object(args))
    }
}

/// The schema object of property `k`, made if missing.
fn property<'a>(properties: &'a mut Map<String, Value>, k: &str) -> &'a mut Map<String, Value> {
    let p = properties
        .entry(k.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !p.is_object() {
        *p = Value::Object(Map::new());
    }
    p.as_object_mut().expect("an object")
}

/// A server's overrides valid: each compiles, no tool overridden twice,
/// no two tools shown under one name.
pub(crate) fn validate(overrides: &[ToolOverride]) -> Result<(), (String, String)> {
    let mut tools = std::collections::HashSet::new();
    let mut names = std::collections::HashSet::new();
    for (i, o) in overrides.iter().enumerate() {
        let key = |k: &str| format!("overrides[{i}].{k}");
        o.compile().map_err(|(k, m)| (key(&k), m))?;
        if !tools.insert(o.tool.as_str()) {
            return Err((key("tool"), format!("{:?} is overridden twice", o.tool)));
        }
        if !names.insert(o.client_name()) {
            return Err((
                key("name"),
                format!("two tools are shown as {:?}", o.client_name()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn repo_override() -> CompiledOverride {
        ToolOverride {
            tool: "github__create_issue".into(),
            name: Some("file_bug".into()),
            description: Some("File a bug in one of our repositories".into()),
            fixed: [("owner".to_owned(), json!("acme"))].into(),
            defaults: [("labels".to_owned(), json!(["triage"]))].into(),
            schemas: [("repo".to_owned(), json!({"enum": ["site", "api"]}))].into(),
            ..ToolOverride::default()
        }
        .compile()
        .unwrap()
    }

    #[test]
    fn the_client_sees_the_overridden_definition() {
        let mut d = json!({"name": "github__create_issue", "description": "Create an issue",
            "inputSchema": {"type": "object", "required": ["owner", "repo", "title", "labels"],
              "properties": {"owner": {"type": "string"}, "repo": {"type": "string"},
                             "title": {"type": "string"}, "labels": {"type": "array"}}}});
        repo_override().present(&mut d);
        assert_eq!(d["name"], "file_bug");
        assert_eq!(d["description"], "File a bug in one of our repositories");
        let s = &d["inputSchema"];
        assert!(
            s["properties"].get("owner").is_none(),
            "fixed arguments are hidden"
        );
        assert_eq!(s["required"], json!(["repo", "title"]));
        assert_eq!(s["properties"]["labels"]["default"], json!(["triage"]));
        assert_eq!(
            s["properties"]["repo"],
            json!({"type": "string", "enum": ["site", "api"]})
        );
    }

    #[test]
    fn calls_get_fixed_values_and_defaults_and_narrowed_arguments_are_checked() {
        let o = repo_override();
        let args = o
            .arguments(Some(json!({"repo": "site", "title": "x"})))
            .unwrap();
        assert_eq!(
            args,
            json!({"owner": "acme", "repo": "site", "title": "x", "labels": ["triage"]})
        );
        let e = o
            .arguments(Some(json!({"repo": "secret-repo", "title": "x"})))
            .unwrap_err();
        assert!(e.0.contains("\"repo\""), "{e:?}");
        let e = o
            .arguments(Some(json!({"repo": "site", "owner": "evil"})))
            .unwrap_err();
        assert!(e.0.contains("set by the server"), "{e:?}");
        assert!(o.arguments(Some(json!([1]))).is_err());
    }

    #[test]
    fn a_bad_override_is_refused() {
        let bad = ToolOverride {
            tool: "t".into(),
            schemas: [("a".to_owned(), json!({"type": 7}))].into(),
            ..ToolOverride::default()
        };
        assert_eq!(bad.compile().unwrap_err().0, "schemas.a");
        let both = ToolOverride {
            tool: "t".into(),
            fixed: [("a".to_owned(), json!(1))].into(),
            defaults: [("a".to_owned(), json!(2))].into(),
            ..ToolOverride::default()
        };
        assert!(both.compile().is_err());
    }
}
