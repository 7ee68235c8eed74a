//! Where a secret is read from: an environment variable or a file.

use std::fmt;
use std::io::Read;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The largest secret file read (64 KiB): a credential, not a document.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;

/// `{ env = "NAME" }` or `{ file = "/path" }`, with an optional `prefix`
/// put before the value (`"Bearer "` for a header holding a bare token).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Reference {
    /// An environment variable of Switchboard's process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// A file, read whole (at most [`MAX_FILE_BYTES`]), its trailing line
    /// break dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Put before the value read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

impl Reference {
    /// An environment variable.
    pub fn env(name: impl Into<String>) -> Self {
        Self {
            env: Some(name.into()),
            ..Self::default()
        }
    }

    /// A file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            file: Some(path.into()),
            ..Self::default()
        }
    }

    /// The value it names, with its prefix; errors name the variable or
    /// the path, never a value.
    pub(crate) fn read(&self) -> Result<String, String> {
        let raw = match (&self.env, &self.file) {
            (Some(name), None) => read_env(name)?,
            (None, Some(path)) => read_file(path)?,
            _ => return Err("a secret reference needs exactly one of `env` and `file`".into()),
        };
        Ok(match &self.prefix {
            Some(prefix) => format!("{prefix}{raw}"),
            None => raw,
        })
    }
}

fn read_env(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if v.is_empty() => Err(format!("environment variable {name} is empty")),
        Ok(v) => Ok(v),
        Err(std::env::VarError::NotPresent) => {
            Err(format!("environment variable {name} is not set"))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("environment variable {name} is not UTF-8"))
        }
    }
}

fn read_file(path: &std::path::Path) -> Result<String, String> {
    let shown = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read secret file {shown}: {e}"))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read secret file {shown}: {e}"))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "secret file {shown} is larger than {MAX_FILE_BYTES} bytes"
        ));
    }
    let value = text.strip_suffix('\n').unwrap_or(&text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err(format!("secret file {shown} is empty"));
    }
    Ok(value.to_owned())
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.env, &self.file) {
            (Some(name), _) => write!(f, "env {name}"),
            (None, Some(path)) => write!(f, "file {}", path.display()),
            (None, None) => f.write_str("nothing"),
        }
    }
}
