//! The `mcpServers` JSON format of MCP clients (Claude Desktop, Cursor,
//! and VS Code's `servers`), read as `[[upstreams]]`: each entry's key is
//! its name (and so its prefix, `<key>__`); `command`/`args`/`env`/`cwd`
//! make a stdio upstream, `url`/`headers` (with `type` `http` or
//! `streamable-http`) an HTTP one. A value `${env:NAME}` (VS Code's form)
//! becomes a reference to the variable `NAME`. Fields Switchboard does
//! not use are warned about, not refused; a disabled entry is skipped.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use switchboard_secret::{Reference, Secret};
use switchboard_upstream::gateway::{UpstreamConfig, UpstreamKind};

/// Largest file read.
const MAX_FILE: u64 = 1 << 20;

/// Fields of an entry that are read.
const KNOWN: [&str; 9] = [
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "type",
    "headers",
    "disabled",
    "transport",
];

/// A value of an entry's `env` or `headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryValue {
    /// Written in the file.
    Inline(String),
    /// `${env:NAME}`: the variable `NAME`.
    Env(String),
}

/// One server of the file, as read (nothing resolved yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its key: the upstream's name.
    pub name: String,
    /// A stdio server's program, or an HTTP server's URL.
    pub target: Target,
    /// Variables (stdio) or headers (HTTP).
    pub values: Vec<(String, EntryValue)>,
}

/// What kind of server an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A program on stdio.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Its working directory.
        cwd: Option<String>,
    },
    /// A Streamable HTTP endpoint.
    Http {
        /// Its URL.
        url: String,
    },
}

/// The servers of a file, and warnings about what was left out.
#[derive(Debug, Default)]
pub struct McpServers {
    /// One per entry kept, in the file's order.
    pub entries: Vec<Entry>,
    /// What was ignored, one line each.
    pub warnings: Vec<String>,
}

impl McpServers {
    /// The entries as upstreams (each `${env:…}` read now); an entry whose
    /// variable is unset is left out, with a warning.
    pub fn upstreams(&self) -> (Vec<UpstreamConfig>, Vec<String>) {
        let mut warnings = Vec::new();
        let ups = self
            .entries
            .iter()
            .filter_map(|e| match e.upstream() {
                Ok(u) => Some(u),
                Err(why) => {
                    warnings.push(format!("{}: {why}, skipped", e.name));
                    None
                }
            })
            .collect();
        (ups, warnings)
    }
}

impl Entry {
    /// The upstream this entry is.
    pub fn upstream(&self) -> Result<UpstreamConfig, String> {
        let mut values = BTreeMap::new();
        for (k, v) in &self.values {
            let secret = match v {
                EntryValue::Inline(s) => Secret::new(s.as_str()),
                EntryValue::Env(var) => {
                    Secret::resolve(Reference::env(var.clone())).map_err(|e| format!("{k}: {e}"))?
                }
            };
            values.insert(k.clone(), secret);
        }
        let mut u = UpstreamConfig {
            name: self.name.clone(),
            ..UpstreamConfig::default()
        };
        match &self.target {
            Target::Stdio { command, args, cwd } => {
                u.kind = UpstreamKind::Stdio;
                u.command = command.clone();
                u.args = args.clone();
                u.cwd = cwd.as_ref().map(Into::into);
                u.env = values;
            }
            Target::Http { url } => {
                u.kind = UpstreamKind::Http;
                u.url = url.clone();
                u.headers = values;
            }
        }
        Ok(u)
    }
}

impl McpServers {
    /// The entries as `[[upstreams]]` TOML, and the variables it reads.
    /// A value written in the file becomes a reference to a variable
    /// (`env` entries: their own name; headers:
    /// `<SERVER>_<HEADER>`, upper case) unless `inline` — so no credential
    /// is printed by default.
    pub fn to_toml(&self, inline: bool) -> (String, Vec<String>) {
        let mut vars = Vec::new();
        let mut list = Vec::new();
        for e in &self.entries {
            let mut t = toml::Table::new();
            t.insert("name".into(), e.name.clone().into());
            let field = match &e.target {
                Target::Stdio { command, args, cwd } => {
                    t.insert("command".into(), command.clone().into());
                    if !args.is_empty() {
                        t.insert("args".into(), args.clone().into());
                    }
                    if let Some(cwd) = cwd {
                        t.insert("cwd".into(), cwd.clone().into());
                    }
                    "env"
                }
                Target::Http { url } => {
                    t.insert("kind".into(), "http".into());
                    t.insert("url".into(), url.clone().into());
                    "headers"
                }
            };
            let mut values = toml::Table::new();
            for (k, v) in &e.values {
                let value = match v {
                    EntryValue::Inline(s) if inline => toml::Value::from(s.clone()),
                    EntryValue::Inline(_) => {
                        let var = if field == "env" {
                            k.clone()
                        } else {
                            variable(&format!("{}_{k}", e.name))
                        };
                        vars.push(var.clone());
                        reference(var)
                    }
                    EntryValue::Env(var) => {
                        vars.push(var.clone());
                        reference(var.clone())
                    }
                };
                values.insert(k.clone(), value);
            }
            if !values.is_empty() {
                t.insert(field.into(), values.into());
            }
            list.push(toml::Value::Table(t));
        }
        let mut root = toml::Table::new();
        root.insert("upstreams".into(), toml::Value::Array(list));
        vars.sort();
        vars.dedup();
        (toml::to_string(&root).unwrap_or_default(), vars)
    }
}

/// `{ env = "NAME" }`.
fn reference(var: String) -> toml::Value {
    let mut t = toml::Table::new();
    t.insert("env".into(), var.into());
    toml::Value::Table(t)
}

/// A variable name from `s`: upper case, `_` for anything not a letter
/// or digit.
fn variable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl crate::Config {
    /// Add the servers of `mcp_config`, if set, as upstreams (logging
    /// what was left out); a name an upstream already has is an error.
    pub fn add_mcp_servers(&mut self) -> Result<(), String> {
        let Some(path) = &self.mcp_config else {
            return Ok(());
        };
        let found = read(path)?;
        let (upstreams, more) = found.upstreams();
        for w in found.warnings.iter().chain(&more) {
            tracing::warn!(file = %path.display(), "mcp_config: {w}");
        }
        for u in upstreams {
            if self.upstreams.iter().any(|o| o.name == u.name) {
                return Err(format!(
                    "{}: server {:?} is also an [[upstreams]] entry",
                    path.display(),
                    u.name
                ));
            }
            self.upstreams.push(u);
        }
        Ok(())
    }
}

/// Read `path`.
pub fn read(path: &Path) -> Result<McpServers, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if meta.len() > MAX_FILE {
        return Err(format!("{shown}: larger than {MAX_FILE} bytes"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    parse(&text).map_err(|e| format!("{shown}: {e}"))
}

/// Parse a file's text.
pub fn parse(text: &str) -> Result<McpServers, String> {
    let root: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let root = root.as_object().ok_or("not a JSON object")?;
    let servers = root
        .get("mcpServers")
        .or_else(|| root.get("servers"))
        .ok_or("no \"mcpServers\" (or \"servers\") object")?
        .as_object()
        .ok_or("\"mcpServers\" is not an object")?;
    let mut out = McpServers::default();
    for key in root
        .keys()
        .filter(|k| !matches!(k.as_str(), "mcpServers" | "servers"))
    {
        out.warnings.push(format!("{key}: ignored"));
    }
    for (name, entry) in servers {
        let entry = entry
            .as_object()
            .ok_or_else(|| format!("mcpServers.{name}: not an object"))?;
        if entry.get("disabled").and_then(Value::as_bool) == Some(true) {
            out.warnings.push(format!("{name}: disabled, skipped"));
            continue;
        }
        for field in entry.keys().filter(|f| !KNOWN.contains(&f.as_str())) {
            out.warnings.push(format!("{name}.{field}: ignored"));
        }
        match self::entry(name, entry) {
            Ok(e) => out.entries.push(e),
            Err(why) => out.warnings.push(format!("{name}: {why}, skipped")),
        }
    }
    Ok(out)
}

/// One entry, checked.
fn entry(name: &str, entry: &Map<String, Value>) -> Result<Entry, String> {
    let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
    let kind = text("type").or_else(|| text("transport"));
    let (target, field) = match (kind.as_deref(), text("command"), text("url")) {
        (None | Some("stdio"), Some(command), None) => {
            let args = strings(entry.get("args")).ok_or("args is not a list of strings")?;
            (
                Target::Stdio {
                    command,
                    args,
                    cwd: text("cwd"),
                },
                "env",
            )
        }
        (None | Some("http" | "streamable-http" | "streamableHttp"), None, Some(url)) => {
            (Target::Http { url }, "headers")
        }
        (Some("sse"), _, _) => {
            return Err("the 2024-11-05 HTTP+SSE transport is not supported upstream".into());
        }
        (Some(other), _, _) if !matches!(other, "stdio" | "http" | "streamable-http") => {
            return Err(format!("type {other:?} is not supported"));
        }
        _ => return Err("needs either command (stdio) or url (http)".into()),
    };
    Ok(Entry {
        name: name.to_owned(),
        target,
        values: values(entry.get(field), field)?,
    })
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Some(_) => None,
    }
}

/// An object of strings: `${env:NAME}` names the variable `NAME`.
fn values(v: Option<&Value>, field: &str) -> Result<Vec<(String, EntryValue)>, String> {
    let obj = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(format!("{field} is not an object of strings")),
    };
    obj.iter()
        .map(|(k, v)| {
            let s = v
                .as_str()
                .ok_or_else(|| format!("{field}.{k} is not a string"))?;
            let value = match s.strip_prefix("${env:").and_then(|r| r.strip_suffix('}')) {
                Some(var) => EntryValue::Env(var.to_owned()),
                None => EntryValue::Inline(s.to_owned()),
            };
            Ok((k.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_desktop_and_vs_code_entries() {
        let file = r#"{
          "mcpServers": {
            "everything": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-everything"]},
            "files": {"command": "python3", "args": ["srv.py"], "env": {"ROOT": "/tmp"}, "cwd": "/srv",
                      "alwaysAllow": ["read"]},
            "remote": {"type": "http", "url": "https://mcp.example.com/mcp",
                       "headers": {"Authorization": "Bearer abc"}},
            "old": {"type": "sse", "url": "https://old.example.com/sse"},
            "off": {"command": "x", "disabled": true}
          },
          "globalShortcut": "x"
        }"#;
        let got = parse(file).unwrap();
        let (ups, more) = got.upstreams();
        assert!(more.is_empty());
        let names: Vec<&str> = ups.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["everything", "files", "remote"]);
        assert_eq!(
            ups[0].args,
            ["-y", "@modelcontextprotocol/server-everything"]
        );
        assert_eq!(ups[1].env["ROOT"].expose(), "/tmp");
        assert_eq!(ups[1].cwd.as_deref(), Some(Path::new("/srv")));
        assert_eq!(ups[2].kind, UpstreamKind::Http);
        assert_eq!(ups[2].headers["Authorization"].expose(), "Bearer abc");
        let warned = got.warnings.join("\n");
        for w in [
            "files.alwaysAllow: ignored",
            "old: the 2024-11-05",
            "off: disabled",
            "globalShortcut: ignored",
        ] {
            assert!(warned.contains(w), "{w} in {warned}");
        }
        let vs = parse(
            r#"{"servers": {"gh": {"type": "http", "url": "https://x/mcp",
            "headers": {"Authorization": "${env:SB_TEST_SURELY_UNSET_VARIABLE}"}}}, "inputs": []}"#,
        )
        .unwrap();
        assert_eq!(
            vs.entries[0].values,
            [(
                "Authorization".to_owned(),
                EntryValue::Env("SB_TEST_SURELY_UNSET_VARIABLE".into())
            )]
        );
        let (ups, more) = vs.upstreams();
        assert!(ups.is_empty());
        assert!(
            more.join(" ").contains("SB_TEST_SURELY_UNSET_VARIABLE"),
            "{more:?}"
        );
        let (text, vars) = got.to_toml(false);
        assert_eq!(vars, ["REMOTE_AUTHORIZATION", "ROOT"]);
        assert!(!text.contains("Bearer abc"), "{text}");
        assert!(text.contains("env = \"REMOTE_AUTHORIZATION\""), "{text}");
        let (inline, _) = got.to_toml(true);
        let back: crate::Config = toml::from_str(&inline).unwrap();
        assert_eq!(back.upstreams.len(), 3);
        assert_eq!(back.upstreams[2].url, "https://mcp.example.com/mcp");
        assert_eq!(
            back.upstreams[2].headers["Authorization"].expose(),
            "Bearer abc"
        );
        assert_eq!(back.upstreams[1].env["ROOT"].expose(), "/tmp");
        assert!(parse("[]").is_err());
        assert!(parse(r#"{"other": {}}"#).is_err());
        assert!(parse(r#"{"mcpServers": {"x": 3}}"#).is_err());
    }
}
