//! Layered configuration: built-in defaults, then a TOML file, then
//! environment variables (`SWITCHBOARD_<KEY>`, `__` between nested keys,
//! plus the aliases `MCP_MAX_CONNECTIONS` and `MCP_CONNECTION_POOL_SIZE`).
//! Every value remembers where it came from, so an error names the key and
//! its source.

use std::collections::HashMap;
use std::path::Path;

use toml::{Table, Value};

use crate::config::{Config, ConfigError};

/// `SWITCHBOARD_…` variables the binary reads itself (not configuration
/// keys): the log format, the admin token of the `sessions`, `drain` and
/// `pins` commands, and the credential of `connect` — so a process
/// environment holding them still starts `serve`.
const NOT_CONFIG: [&str; 3] = [
    "SWITCHBOARD_LOG_FORMAT",
    "SWITCHBOARD_ADMIN_TOKEN",
    "SWITCHBOARD_API_KEY",
];

/// Environment variables that name a key directly (names used by other MCP
/// servers, kept as aliases).
const ALIASES: [(&str, &str); 2] = [
    ("MCP_MAX_CONNECTIONS", "max_sessions"),
    ("MCP_CONNECTION_POOL_SIZE", "upstream_pool_size"),
];

/// The merged layers and the source of each key.
#[derive(Debug, Default)]
struct Layers {
    table: Table,
    sources: HashMap<String, String>,
}

impl Layers {
    fn set(&mut self, path: &[String], value: Value, source: String) {
        let mut table = &mut self.table;
        for part in &path[..path.len() - 1] {
            let entry = table
                .entry(part.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                *entry = Value::Table(Table::new());
            }
            let Value::Table(next) = entry else {
                unreachable!("made a table above")
            };
            table = next;
        }
        table.insert(path[path.len() - 1].clone(), value);
        self.sources.insert(path.join("."), source);
    }

    fn add_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let table: Table = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            key: key_at(&text, e.span()).unwrap_or_default(),
            origin: shown.clone(),
            message: e.message().to_owned(),
        })?;
        let mut leaves = Vec::new();
        flatten(&table, &mut Vec::new(), &mut leaves);
        for (path, value) in leaves {
            self.set(&path, value, shown.clone());
        }
        Ok(())
    }

    fn add_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        for (name, raw) in vars {
            if NOT_CONFIG.contains(&name.as_str()) {
                continue;
            }
            let path: Vec<String> = match ALIASES.iter().find(|(alias, _)| *alias == name) {
                Some((_, key)) => vec![(*key).to_owned()],
                None => match name.strip_prefix("SWITCHBOARD_") {
                    Some(rest) if !rest.is_empty() => {
                        rest.split("__").map(str::to_ascii_lowercase).collect()
                    }
                    _ => continue,
                },
            };
            self.set(
                &path,
                env_value(&raw),
                format!("environment variable {name}"),
            );
        }
    }

    fn source_of(&self, key: &str) -> String {
        self.sources
            .get(key)
            .cloned()
            .unwrap_or_else(|| "built-in default".to_owned())
    }
}

/// An environment value is read as a TOML value if it is one (a number, a
/// boolean, an array…), else as a string.
fn env_value(raw: &str) -> Value {
    toml::from_str::<Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_owned()))
}

fn flatten(table: &Table, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    for (k, v) in table {
        prefix.push(k.clone());
        match v {
            Value::Table(t) => flatten(t, prefix, out),
            other => out.push((prefix.clone(), other.clone())),
        }
        prefix.pop();
    }
}

/// The dotted key of the line a parse error points at, in TOML text where
/// every value sits on the line of its key.
fn key_at(text: &str, span: Option<std::ops::Range<usize>>) -> Option<String> {
    let at = span?.start.min(text.len());
    let mut section = String::new();
    let mut found = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned();
            // An error in a table's value (a secret reference) points at
            // its header: the table is the key.
            found = None;
        } else if let Some((key, _)) = trimmed.split_once('=') {
            found = Some(key.trim().trim_matches('"').to_owned());
        }
        if at < offset + line.len() {
            break;
        }
        offset += line.len();
    }
    match (found, section.is_empty()) {
        (Some(key), true) => Some(key),
        (Some(key), false) => Some(format!("{section}.{key}")),
        (None, false) => Some(section),
        (None, true) => None,
    }
}

impl Config {
    /// Built-in defaults, then `file`, then the `SWITCHBOARD_…` variables of
    /// `env` (and the aliases `MCP_MAX_CONNECTIONS`,
    /// `MCP_CONNECTION_POOL_SIZE`), validated. Errors name the key and the
    /// layer it came from.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        load(file, env)
    }
}

/// Defaults, then `file`, then `env`; validated.
pub(crate) fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut layers = Layers::default();
    if let Some(path) = file {
        layers.add_file(path)?;
    }
    layers.add_env(env);
    let text = toml::to_string(&layers.table).map_err(|e| ConfigError::Invalid {
        key: String::new(),
        origin: "configuration".into(),
        message: e.to_string(),
    })?;
    let mut config: Config = toml::from_str(&text).map_err(|e| {
        let key = key_at(&text, e.span()).unwrap_or_default();
        ConfigError::Invalid {
            origin: layers.source_of(&key),
            key,
            message: e.message().to_owned(),
        }
    })?;
    config
        .add_mcp_servers()
        .map_err(|message| ConfigError::Invalid {
            origin: layers.source_of("mcp_config"),
            key: "mcp_config".into(),
            message,
        })?;
    config
        .validate()
        .map_err(|(key, message)| ConfigError::Invalid {
            origin: layers.source_of(&key),
            key,
            message,
        })?;
    Ok(config)
}

#[cfg(test)]
mod tests;
