//! The `switchboard` binary: command-line parsing, logging, signals; every
//! piece of behaviour lives in the library (`switchboard::Switchboard`) and
//! the crates below it.

mod cli;

use clap::CommandFactory;
use clap::{Parser, Subcommand};
use cli::{connect, docs, health, import, keys, logwriter, nofile, oauth, ops, serve, stdio};

/// The process allocator (feature `mimalloc`, on by default): cheaper than
/// glibc's for the many small, short-lived buffers of each relayed call,
/// called through its plain entry points where they suffice
/// (`switchboard-alloc`).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: switchboard_alloc::MiMalloc = switchboard_alloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "An MCP server runtime and gateway for many clients at once"
)]
struct Cli {
    /// Log format on stderr: `text` or `json` (also `SWITCHBOARD_LOG_FORMAT`;
    /// default: text on a terminal, JSON otherwise). Levels by `RUST_LOG`.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP over Streamable HTTP (the built-in `everything` toolset unless configured otherwise).
    Serve(serve::ServeArgs),
    /// Serve one MCP client over stdin/stdout (newline-delimited JSON-RPC; logs on stderr):
    /// the built-in toolset, or the `[[upstreams]]` of `--config` as one gateway.
    Stdio(stdio::StdioArgs),
    /// Bridge a local stdio client to a remote MCP server (Streamable HTTP), with an API key from
    /// an environment variable or a file.
    Connect(connect::ConnectArgs),
    /// GET a node's /healthz (or another path) and exit 0 on a 200: a container's health check.
    Health(health::HealthArgs),
    /// Validate a configuration file and print the effective configuration (secrets redacted).
    CheckConfig(serve::CheckArgs),
    /// Print the `[[upstreams]]` TOML of an `mcpServers` JSON file (Claude Desktop, Cursor, VS Code).
    Import(import::ImportArgs),
    /// Manage API keys (`keys new --tenant T`, `keys new --admin`).
    Keys(keys::KeysArgs),
    /// Switchboard's own authorization server (`oauth hash-password`).
    Oauth(oauth::OauthArgs),
    /// List, show or end the sessions of a running node (admin API).
    Sessions(ops::SessionsArgs),
    /// Stop a running node from taking new sessions (admin API).
    Drain(ops::DrainArgs),
    /// Review and approve upstreams' pinned tool definitions (admin API).
    Pins(ops::PinsArgs),
    /// Print the completion script of a shell (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Write the man pages to a directory.
    Man(docs::ManArgs),
    /// Load-test a Streamable HTTP MCP server, Switchboard or not (loopback only unless --allow-remote).
    Bench(switchboard_bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let from_env = std::env::var("SWITCHBOARD_LOG_FORMAT").ok();
    let parsed = from_env
        .as_deref()
        .map(|v| <LogFormat as clap::ValueEnum>::from_str(v, true));
    let flush = init_logging(cli.log_format.or(parsed.clone().and_then(Result::ok)));
    if let Some(Err(_)) = parsed {
        tracing::warn!(
            value = from_env.as_deref(),
            "SWITCHBOARD_LOG_FORMAT is neither text nor json: ignored"
        );
    }
    // Every connection is a descriptor: the server and the load generator
    // take all the open-file limit allows.
    if matches!(cli.command, Command::Serve(_) | Command::Bench(_)) {
        nofile::raise();
    }
    // `stdio` serves one client: one thread does (a gateway may run many of
    // these processes side by side, and cross-thread wake-ups cost CPU).
    let mut builder = match cli.command {
        Command::Stdio(_) | Command::Connect(_) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Stdio(args) => stdio::run(args).await,
            Command::Connect(args) => connect::run(args).await,
            Command::Health(args) => health::run(args).await,
            Command::CheckConfig(args) => serve::check_config(args),
            Command::Import(args) => import::run(args),
            Command::Keys(args) => keys::run(args),
            Command::Oauth(args) => oauth::run(args),
            Command::Sessions(args) => ops::sessions(args).await,
            Command::Drain(args) => ops::drain(args).await,
            Command::Pins(args) => ops::pins(args).await,
            Command::Bench(args) => bench(args).await,
            Command::Completions(args) => docs::completions(args, Cli::command()),
            Command::Man(args) => docs::man(args, Cli::command()),
        }
    });
    drop(runtime);
    drop(flush);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`): text on a
/// terminal, one JSON object a line otherwise (or as `format` says). The
/// trace layer sits beside them, idle until an OTLP endpoint is configured.
fn init_logging(format: Option<LogFormat>) -> logwriter::FlushGuard {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{FilterExt, filter_fn};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer, fmt};
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let (writer, flush) = logwriter::Buffered::start();
    let json = format.unwrap_or(if terminal {
        LogFormat::Text
    } else {
        LogFormat::Json
    }) == LogFormat::Json;
    // One log layer, boxed, never an absent `Option` layer: an absent layer
    // counts as one that wants every span, so the registry would create
    // every span of every request only to drop it (a few % of a relayed
    // call's CPU).
    // As JSON, the access lines have a writer of their own (a third of a
    // call's CPU went to formatting them generically); the same line.
    let log_layer = if json {
        // The access lines of requests are written from their records,
        // the layer below takes any other access event.
        let lines = writer.clone();
        switchboard_observe::access::write_with(Box::new(move |line| {
            cli::accessline::write_record(line, lines.line().buf());
        }));
        let access = cli::accessline::AccessJson::new(writer.clone())
            .with_filter(filter_fn(cli::accessline::is_access).and(filter()));
        let others = fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(writer)
            .with_filter(filter_fn(|m| !cli::accessline::is_access(m)).and(filter()));
        access.and_then(others).boxed()
    } else {
        fmt::layer()
            .with_ansi(terminal)
            .with_writer(writer)
            .with_filter(filter())
            .boxed()
    };
    let spans = switchboard_telemetry::SpanLayer
        .with_filter(filter_fn(switchboard_telemetry::SpanLayer::wants));
    tracing_subscriber::registry()
        .with(log_layer)
        .with(spans)
        .init();
    flush
}

/// `switchboard bench`: the report is printed; the exit status says whether
/// every operation succeeded (rejections by an overloaded server are not
/// failures of the load generator).
async fn bench(args: switchboard_bench::BenchArgs) -> Result<(), String> {
    let report = switchboard_bench::run_and_print(args).await?;
    if report.errors > 0 {
        return Err(format!("{} operations failed", report.errors));
    }
    Ok(())
}
