//! A Switchboard server nested in an existing axum app: the app's own
//! routes (`/` and `/api/status`) and the MCP endpoint (`/mcp`, with
//! `/healthz`, `/readyz`, `/metrics`) on one listener, served by axum.
//!
//! ```sh
//! cargo run -p switchboard --example embedded -- 127.0.0.1:8092
//! ```
//!
//! Stops on Ctrl-C (or SIGTERM): axum finishes the requests in flight, the
//! MCP server takes no new session and stops its background services.

mod tools;

use axum::Router;
use axum::routing::get;
use switchboard::Switchboard;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8092".into());
    let stop = CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            tools::stop().await;
            stop.cancel();
        }
    });
    let mcp = Switchboard::builder()
        .catalog(tools::catalog())
        .router(stop.clone().cancelled_owned())
        .await?;
    let app = Router::new()
        .route("/", get(|| async { "my app; MCP at /mcp\n" }))
        .route("/api/status", get(|| async { "ok\n" }))
        .merge(mcp);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "serving the app at http://{0}/ and MCP at http://{0}/mcp",
        listener.local_addr()?
    );
    // With the clients' addresses: anonymous clients are told apart.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await?;
    Ok(())
}
