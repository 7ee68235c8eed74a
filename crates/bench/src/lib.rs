//! `switchboard bench`: a load generator for any Streamable HTTP MCP
//! server, Switchboard or not.
//!
//! Four scenarios ([`Scenario`]), each in either protocol era ([`Era`]):
//! `calls` (N sessions calling a tool in a loop), `idle` (N sessions held,
//! optionally with streams, then a sample checked), `setup` (session
//! create/initialize/delete cycles per second) and `overload` (more clients
//! than the server admits; admitted latency apart from rejections).
//!
//! Every virtual client owns one HTTP/1.1 keep-alive connection driven by
//! hyper's low-level client (no pool, no shared state on the request path),
//! and sends one request at a time with a per-request timeout. Latencies go
//! into HDR histograms (µs). The [`Report`] carries percentiles, throughput,
//! errors by kind, this process's CPU time and, with `--pid`, the server's
//! CPU time and RSS read from `/proc`. Targets must be loopback addresses
//! unless `--allow-remote` is given.
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! use clap::Parser;
//! let args = switchboard_bench::BenchArgs::try_parse_from([
//!     "bench", "calls", "--url", "http://127.0.0.1:8080/mcp", "--duration", "5s",
//! ]).map_err(|e| e.to_string())?;
//! let report = switchboard_bench::run(args).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod args;
mod client;
mod http;
mod payload;
mod procfs;
mod progress;
mod reply;
mod report;
mod scenario;
mod stats;
mod target;

pub use args::{
    BenchArgs, CallsArgs, CommonArgs, Era, IdleArgs, OverloadArgs, Scenario, SetupArgs, ToolArgs,
};
pub use procfs::ServerUsage;
pub use report::{IdleDetails, Percentiles, Report};

/// Run the scenario `args` names and return its report. Fails before any
/// load is sent if the URL is bad or not loopback (without
/// `--allow-remote`), the arguments are invalid, or `--pid` cannot be read.
pub async fn run(args: BenchArgs) -> Result<Report, String> {
    let common = args.scenario.common();
    let target = target::resolve(&common.url, common.allow_remote).await?;
    if let Some(pid) = common.pid {
        procfs::read(Some(pid))?;
    }
    let tool = match &args.scenario {
        Scenario::Calls(a) => Some(&a.tool),
        Scenario::Overload(a) => Some(&a.tool),
        Scenario::Idle(_) | Scenario::Setup(_) => None,
    };
    let plan = payload::Plan::new(target, common, tool)?;
    scenario::run(&args.scenario, plan).await
}

/// [`run`], then print the report on stdout: one JSON line with `--json`,
/// else the human-readable text.
pub async fn run_and_print(args: BenchArgs) -> Result<Report, String> {
    let json = args.scenario.common().json;
    let report = run(args).await?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(report)
}
