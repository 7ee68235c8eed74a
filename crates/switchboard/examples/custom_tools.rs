//! A custom tool server: three typed tools (one reports progress and stops
//! when cancelled, one asks the user for input) served over Streamable HTTP
//! with everything the `switchboard` binary has — both protocol eras,
//! sessions, tenants, stores, reload and admin from `SWITCHBOARD_*`
//! variables or a config file.
//!
//! ```sh
//! cargo run -p switchboard --example custom_tools -- 127.0.0.1:8090 [CONFIG.toml]
//! ```
//!
//! Stops on Ctrl-C (or SIGTERM).

mod tools;

use switchboard::Switchboard;

#[tokio::main]
async fn main() -> Result<(), switchboard::Error> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let mut builder = Switchboard::builder().catalog(tools::catalog());
    if let Some(addr) = args.next() {
        builder = builder.listen(addr.parse().map_err(|e| format!("{addr}: {e}"))?);
    }
    if let Some(file) = args.next() {
        builder = builder.config_file(file);
    }
    let server = builder.build().await?;
    println!("serving MCP at http://{}/mcp", server.local_addr());
    server.serve(tools::stop()).await
}
