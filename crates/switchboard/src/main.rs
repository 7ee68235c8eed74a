//! The `switchboard` binary: command-line parsing, logging, signals; every
//! piece of behaviour lives in the library crates.

mod gateway;
mod keys;
mod ops;
mod serve;
mod stores;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "An MCP server runtime and gateway for many clients at once"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP over Streamable HTTP (the built-in `everything` toolset unless configured otherwise).
    Serve(serve::ServeArgs),
    /// Serve one MCP client over stdin/stdout (newline-delimited JSON-RPC; logs on stderr).
    Stdio(serve::StdioArgs),
    /// Validate a configuration file and print the effective configuration (secrets redacted).
    CheckConfig(serve::CheckArgs),
    /// Manage API keys (`keys new --tenant T`, `keys new --admin`).
    Keys(keys::KeysArgs),
    /// List, show or end the sessions of a running node (admin API).
    Sessions(ops::SessionsArgs),
    /// Stop a running node from taking new sessions (admin API).
    Drain(ops::DrainArgs),
    /// Load-test a Streamable HTTP MCP server, Switchboard or not (loopback only unless --allow-remote).
    Bench(switchboard_bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Stdio(args) => serve::run_stdio(args).await,
            Command::CheckConfig(args) => serve::check_config(args),
            Command::Keys(args) => keys::run(args),
            Command::Sessions(args) => ops::sessions(args).await,
            Command::Drain(args) => ops::drain(args).await,
            Command::Bench(args) => bench(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
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
