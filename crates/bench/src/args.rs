//! The command line of `switchboard bench`: one subcommand per scenario,
//! each with the common options. Every scenario is bounded in time or
//! count, and every request has a timeout.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `switchboard bench <scenario> [options]`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "bench",
    about = "Load-test a Streamable HTTP MCP server (loopback only unless --allow-remote)"
)]
pub struct BenchArgs {
    /// The scenario to run, with its options.
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// What load to generate.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// N concurrent sessions, each calling a tool in a loop for --duration.
    Calls(CallsArgs),
    /// Open N sessions (optionally each with an SSE stream), hold them for
    /// --duration, then check that a random sample still answers (ping;
    /// modern era: tools/list).
    Idle(IdleArgs),
    /// Session initialize / notifications/initialized / DELETE cycles, flat out.
    Setup(SetupArgs),
    /// Many more clients than the server admits, calling flat out: admitted
    /// latency apart from rejections (503/429).
    Overload(OverloadArgs),
}

/// Which protocol era to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Era {
    /// Session-based Streamable HTTP (initialize, Mcp-Session-Id).
    Legacy,
    /// Stateless 2026-07-28 requests: no session, headers and `_meta` on each.
    Modern,
}

impl Era {
    /// Its name on the command line and in reports: `legacy` or `modern`.
    pub fn name(self) -> &'static str {
        match self {
            Era::Legacy => "legacy",
            Era::Modern => "modern",
        }
    }
}

/// Options every scenario has.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// The MCP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8080/mcp")]
    pub url: String,
    /// Protocol era.
    #[arg(long, value_enum, default_value_t = Era::Legacy)]
    pub era: Era,
    /// The version a legacy client asks for in `initialize`.
    #[arg(long, default_value = "2025-11-25")]
    pub protocol_version: String,
    /// How long to run (idle: how long to hold), e.g. 10s, 500ms, 2m; at most 1h.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Per-request timeout (connect included); at most 10m.
    #[arg(long, default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// The server's process id: report its CPU time and RSS from /proc.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Print one JSON line on stdout instead of the human report.
    #[arg(long)]
    pub json: bool,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// The tool each call invokes.
#[derive(Debug, Clone, Args)]
pub struct ToolArgs {
    /// Tool name.
    #[arg(long, default_value = "echo")]
    pub tool: String,
    /// Tool arguments, a JSON object.
    #[arg(long, default_value = r#"{"message":"hi"}"#)]
    pub arguments: String,
}

/// The options of `calls`.
#[derive(Debug, Clone, Args)]
pub struct CallsArgs {
    /// The options every scenario has.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Concurrent sessions (stateless clients in the modern era).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    pub sessions: u32,
    /// The tool each call invokes.
    #[command(flatten)]
    pub tool: ToolArgs,
    /// Stop after this many calls in all (besides --duration).
    #[arg(long)]
    pub max_calls: Option<u64>,
}

/// The options of `idle`.
#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// The options every scenario has.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Sessions to open (modern era: idle connections).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=200_000))]
    pub sessions: u32,
    /// Hold a stream open per session (GET; modern: subscriptions/listen).
    #[arg(long)]
    pub streams: bool,
    /// How many random sessions must answer a probe after the hold.
    #[arg(long, default_value_t = 100)]
    pub sample: u32,
    /// Concurrent workers opening (and deleting) sessions.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
}

/// The options of `setup`.
#[derive(Debug, Clone, Args)]
pub struct SetupArgs {
    /// The options every scenario has.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Concurrent workers, each cycling sessions over one connection.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// Stop after this many cycles in all (besides --duration).
    #[arg(long)]
    pub max_cycles: Option<u64>,
}

/// The options of `overload`.
#[derive(Debug, Clone, Args)]
pub struct OverloadArgs {
    /// The options every scenario has.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Concurrent clients, each with its own connection and session.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    pub clients: u32,
    /// The tool each call invokes.
    #[command(flatten)]
    pub tool: ToolArgs,
    /// Retry a refused call (503/429) at once instead of waiting the
    /// server's `Retry-After`, as the load generator did before: a client
    /// no one should write, kept to compare with earlier figures.
    #[arg(long)]
    pub ignore_retry_after: bool,
    /// Run the clients this long before measuring (after `--duration`'s
    /// start): the opening burst of connects and session opens is left
    /// out of every figure, as `calls` leaves out its setup. Without it,
    /// the burst counts.
    #[arg(long, value_parser = parse_duration)]
    pub warmup: Option<Duration>,
}

impl Scenario {
    /// The options every scenario has.
    pub fn common(&self) -> &CommonArgs {
        match self {
            Scenario::Calls(a) => &a.common,
            Scenario::Idle(a) => &a.common,
            Scenario::Setup(a) => &a.common,
            Scenario::Overload(a) => &a.common,
        }
    }

    /// Its subcommand name, as in reports: `calls`, `idle`, `setup` or
    /// `overload`.
    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Calls(_) => "calls",
            Scenario::Idle(_) => "idle",
            Scenario::Setup(_) => "setup",
            Scenario::Overload(_) => "overload",
        }
    }
}

const MAX_DURATION: Duration = Duration::from_secs(3600);

/// `250ms`, `5s`, `2m`, `1h`, or a plain number of seconds; nonzero, at most 1h.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?} (try 5s or 500ms)"))?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => return Err(format!("unknown unit {other:?} in {text:?} (ms, s, m, h)")),
    };
    let d = Duration::from_secs_f64(value * scale);
    if d.is_zero() || d > MAX_DURATION {
        return Err(format!("{text:?}: must be more than 0 and at most 1h"));
    }
    Ok(d)
}

/// A duration of at most 10 minutes.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d > Duration::from_secs(600) {
        return Err(format!("{text:?}: a timeout is at most 10m"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_timeout("11m").is_err());
    }

    #[test]
    fn parses_a_command_line() {
        let a = BenchArgs::try_parse_from(["bench", "calls", "--sessions", "7", "--era", "modern"])
            .expect("parse");
        let Scenario::Calls(c) = &a.scenario else {
            panic!("not calls")
        };
        assert_eq!(c.sessions, 7);
        assert_eq!(c.common.era, Era::Modern);
        assert_eq!(c.tool.tool, "echo");
        assert!(BenchArgs::try_parse_from(["bench", "calls", "--sessions", "0"]).is_err());
    }

    /// How the `switchboard` binary embeds it: a `bench` subcommand.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Debug, Subcommand)]
    enum Command {
        /// Load-test an MCP server.
        Bench(BenchArgs),
    }

    #[test]
    fn embeds_as_a_subcommand() {
        let argv = [
            "switchboard",
            "bench",
            "idle",
            "--streams",
            "--duration",
            "30s",
        ];
        let Command::Bench(b) = Cli::try_parse_from(argv).expect("parse").command;
        let Scenario::Idle(i) = &b.scenario else {
            panic!("not idle")
        };
        assert!(i.streams);
        assert_eq!(i.common.duration, Duration::from_secs(30));
        assert_eq!(b.scenario.name(), "idle");
    }
}
