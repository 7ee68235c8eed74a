//! The custom tools of `custom_tools` and a stdio upstream in one
//! namespace: `greet`, `count`, `ask_name` run in this process, the
//! upstream's tools are served beside them as `up__<name>` (its process
//! started by the server, its progress, elicitation and cancellation
//! relayed). A tool name both have stops the start.
//!
//! ```sh
//! cargo run -p switchboard --example with_upstream -- 127.0.0.1:8091 [COMMAND [ARGS…]]
//! ```
//!
//! The upstream command defaults to `$SWITCHBOARD_EXAMPLE_UPSTREAM` (split
//! at spaces), else to the small Python fixture server of the upstream
//! crate's tests. Stops on Ctrl-C (or SIGTERM).

mod tools;

use switchboard::{Config, Switchboard};

#[tokio::main]
async fn main() -> Result<(), switchboard::Error> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8091".into());
    let mut command: Vec<String> = args.collect();
    if command.is_empty() {
        command = std::env::var("SWITCHBOARD_EXAMPLE_UPSTREAM")
            .unwrap_or_else(|_| {
                let fixture = "../upstream/tests/fixtures/fixture_server.py";
                format!("python3 {}/{fixture}", env!("CARGO_MANIFEST_DIR"))
            })
            .split_whitespace()
            .map(str::to_owned)
            .collect();
    }
    let config = Config::from_toml(&upstream_toml(&listen, &command))
        .map_err(|e| format!("configuration: {e}"))?;
    let server = Switchboard::builder()
        .config(config)
        .catalog(tools::catalog())
        .build()
        .await?;
    println!("serving MCP at http://{}/mcp", server.local_addr());
    server.serve(tools::stop()).await
}

/// The configuration: `listen` and one stdio upstream named `up`. (The
/// same as a `switchboard.toml`; `Config::load` would read one from a file
/// and the environment.)
fn upstream_toml(listen: &str, command: &[String]) -> String {
    let quoted = |s: &str| serde_json::Value::from(s).to_string();
    let args: Vec<String> = command.iter().skip(1).map(|a| quoted(a)).collect();
    format!(
        "listen = {}\n\n[[upstreams]]\nname = \"up\"\ncommand = {}\nargs = [{}]\n",
        quoted(listen),
        quoted(command.first().map_or("", String::as_str)),
        args.join(", ")
    )
}
