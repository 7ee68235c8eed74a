//! An in-process server on an ephemeral loopback port.

use std::net::SocketAddr;
use std::sync::Arc;

use switchboard_runtime::CatalogBuilder;
use switchboard_server::{App, Config};
use tokio::sync::oneshot;

/// A running server; stopped (gracefully) when dropped.
#[derive(Debug)]
pub struct TestServer {
    pub addr: SocketAddr,
    pub app: App,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// The `everything` toolset with default configuration.
    pub async fn start() -> Self {
        Self::with(Config::default(), switchboard_everything::everything()).await
    }

    /// A server with this configuration (its `listen` is ignored) and catalog.
    pub async fn with(config: Config, catalog: CatalogBuilder) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let catalog = catalog
            .page_size(config.page_size)
            .build()
            .expect("catalog");
        let app = App::builder(config, Arc::new(catalog)).build();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn({
            let app = app.clone();
            async move {
                let _ = switchboard_server::serve(listener, app, async {
                    let _ = rx.await;
                })
                .await;
            }
        });
        Self {
            addr,
            app,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// The MCP endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// A raw client for this server.
    pub fn client(&self) -> McpClient {
        McpClient::new(&self.url())
    }

    /// Stop the server and wait until it has stopped.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

use crate::client::McpClient;
