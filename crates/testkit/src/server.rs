//! An in-process server on an ephemeral loopback port.

use std::net::SocketAddr;
use std::sync::Arc;

use switchboard_runtime::CatalogBuilder;
use switchboard_server::{App, Config};
use tokio::sync::oneshot;

/// A running server; stopped (gracefully) when dropped. With
/// `[admin] token_sha256` configured, the admin listener runs too (on its
/// own ephemeral port, `admin_addr`).
#[derive(Debug)]
pub struct TestServer {
    /// Where the MCP listener is (`127.0.0.1`, an ephemeral port).
    pub addr: SocketAddr,
    /// Where the admin listener is; `None` without `[admin] token_sha256`.
    pub admin_addr: Option<SocketAddr>,
    /// The running app, to reach its state from the test.
    pub app: App,
    stop: Option<oneshot::Sender<()>>,
    stop_admin: Option<oneshot::Sender<()>>,
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
        Self::on(listener, config, catalog, |app| app).await
    }

    /// A server on `listener` (bound already, so its address can be in the
    /// configuration), its app builder passed through `tweak` (what the
    /// upstreams share, a store…).
    pub async fn on(
        listener: tokio::net::TcpListener,
        config: Config,
        catalog: CatalogBuilder,
        tweak: impl FnOnce(switchboard_server::AppBuilder) -> switchboard_server::AppBuilder,
    ) -> Self {
        let addr = listener.local_addr().expect("addr");
        let catalog = catalog
            .page_size(config.page_size)
            .build()
            .expect("catalog");
        let admin = config.admin.token_sha256.is_some();
        let app = tweak(App::builder(config, Arc::new(catalog))).build();
        let (admin_addr, stop_admin) = if admin {
            let (addr, stop) = start_admin(&app).await;
            (Some(addr), Some(stop))
        } else {
            (None, None)
        };
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
            admin_addr,
            app,
            stop: Some(tx),
            stop_admin,
            task: Some(task),
        }
    }

    /// The admin API's base URL (`http://addr/admin/v1`).
    ///
    /// # Panics
    ///
    /// If the server runs no admin listener (no `[admin] token_sha256`).
    pub fn admin_url(&self) -> String {
        let addr = self.admin_addr.expect("the admin listener runs");
        format!("http://{addr}/admin/v1")
    }

    /// The MCP endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// The text of its `/metrics` (without a scrape token).
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.addr))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("the metrics text")
    }

    /// A raw client for this server.
    pub fn client(&self) -> McpClient {
        McpClient::new(&self.url())
    }

    /// Stop the server and wait until it has stopped.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop_admin.take() {
            let _ = tx.send(());
        }
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
        if let Some(tx) = self.stop_admin.take() {
            let _ = tx.send(());
        }
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Run `app`'s admin API on an ephemeral port until the sender is used or dropped.
async fn start_admin(app: &App) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the admin listener");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(switchboard_server::serve_admin(
        listener,
        app.clone(),
        async {
            let _ = rx.await;
        },
    ));
    (addr, tx)
}

use crate::client::McpClient;
