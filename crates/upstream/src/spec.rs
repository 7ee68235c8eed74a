//! How to start a stdio upstream.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Default for [`StdioSpec::max_line_bytes`]: 4 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 4 * 1024 * 1024;
/// Default for [`StdioSpec::init_timeout`]: 10 seconds.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`StdioSpec::max_garbage`]: 16 invalid lines.
pub const DEFAULT_MAX_GARBAGE: u32 = 16;

/// One MCP server run as a child process speaking JSON lines on stdio.
#[derive(Clone)]
pub struct StdioSpec {
    /// The upstream's name, used in logs and error messages.
    pub name: String,
    /// The program to run (looked up on `PATH` when not a path).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, String)>,
    /// The working directory; the gateway's own when `None`.
    pub cwd: Option<PathBuf>,
    /// The longest line accepted on stdout (and stderr), newline excluded.
    pub max_line_bytes: usize,
    /// How long `initialize` may take before the process is given up on.
    pub init_timeout: Duration,
    /// Invalid lines tolerated; one more and the process group is killed.
    pub max_garbage: u32,
    /// Run the `initialize` handshake (default). Off for a server that
    /// speaks only 2026-07-28, whose requests stand alone.
    pub handshake: bool,
}

impl StdioSpec {
    /// A spec with no arguments, no extra environment and the defaults.
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            command: command.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            init_timeout: DEFAULT_INIT_TIMEOUT,
            max_garbage: DEFAULT_MAX_GARBAGE,
            handshake: true,
        }
    }

    /// The same spec with these arguments.
    pub fn with_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
}

/// Environment values are left out: they often hold API keys.
impl fmt::Debug for StdioSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("StdioSpec")
            .field("name", &self.name)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &env)
            .field("cwd", &self.cwd)
            .field("max_line_bytes", &self.max_line_bytes)
            .field("init_timeout", &self.init_timeout)
            .field("max_garbage", &self.max_garbage)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_env_values() {
        let mut spec = StdioSpec::new("x", "server");
        spec.env.push(("API_KEY".into(), "hunter2".into()));
        let text = format!("{spec:?}");
        assert!(text.contains("API_KEY"));
        assert!(!text.contains("hunter2"));
    }
}
