//! [`Server`]: a built server on its bound listener, served until a
//! shutdown future resolves; and the admin listener beside it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use switchboard_runtime::Catalog;
use switchboard_server::{App, Config};
use tokio::net::TcpListener;

use crate::Error;

/// A server built by [`Builder::build`](crate::Builder::build): its store
/// open, its upstreams started, its listener (and admin listener) bound.
/// [`serve`](Self::serve) runs it; dropped unserved, it stops its admin
/// listener and reloads.
pub struct Server {
    app: App,
    listener: Option<TcpListener>,
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    store: String,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.addr)
            .field("admin_addr", &self.admin)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Server {
    pub(crate) fn new(
        app: App,
        listener: TcpListener,
        addr: SocketAddr,
        admin: Option<SocketAddr>,
        store: String,
    ) -> Self {
        Self {
            app,
            listener: Some(listener),
            addr,
            admin,
            store,
        }
    }

    /// The address the MCP endpoint listens on (`http://{addr}/mcp`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin API's address, if `[admin]` has a token.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// The catalog served: the server's own tools and the upstreams'.
    pub fn catalog(&self) -> &Arc<Catalog> {
        self.app.catalog()
    }

    /// The configuration in effect (a reload may replace it).
    pub fn config(&self) -> Arc<Config> {
        self.app.config()
    }

    /// The store, in a few words (`memory`, `file PATH`, `redis at URL,
    /// prefix P`; passwords redacted).
    pub fn store_summary(&self) -> &str {
        &self.store
    }

    /// Who may connect, in a few words (anonymous access, tenants, keys).
    pub fn auth_summary(&self) -> String {
        self.app.auth_summary()
    }

    /// Serve until `shutdown` resolves; then stop accepting and taking new
    /// sessions, end the standalone SSE streams with a hint to resume, and
    /// give in-flight requests `shutdown_grace_secs` to finish.
    ///
    /// ```
    /// use switchboard::{Config, Switchboard, Tool};
    /// # #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// # struct Greet { name: String }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let greet = Tool::typed("greet", "Says hello", |_, Greet { name }: Greet| async move {
    ///     Ok(format!("Hello, {name}!"))
    /// });
    /// let server = Switchboard::builder()
    ///     .config(Config::default()) // as it is: no file, no environment
    ///     .listen("127.0.0.1:0".parse()?)
    ///     .tool(greet)
    ///     .build()
    ///     .await?;
    /// let url = format!("http://{}/mcp", server.local_addr());
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let serving = tokio::spawn(server.serve(async { stopped.await.unwrap() }));
    ///
    /// // One stateless (2026-07-28) call: no session, the version in `_meta`.
    /// let call = r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
    ///     "name": "greet", "arguments": {"name": "Ada"},
    ///     "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
    ///               "io.modelcontextprotocol/clientCapabilities": {}}}}"#;
    /// let answer: serde_json::Value = reqwest::Client::new()
    ///     .post(&url)
    ///     .header("content-type", "application/json")
    ///     .header("accept", "application/json, text/event-stream")
    ///     .header("mcp-protocol-version", "2026-07-28")
    ///     .header("mcp-method", "tools/call")
    ///     .header("mcp-name", "greet")
    ///     .body(call)
    ///     .send()
    ///     .await?
    ///     .json()
    ///     .await?;
    /// assert_eq!(answer["result"]["content"][0]["text"], "Hello, Ada!");
    ///
    /// stop.send(()).unwrap();
    /// serving.await??;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve(mut self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let listener = self
            .listener
            .take()
            .ok_or("the server was served already")?;
        switchboard_server::serve(listener, self.app.clone(), shutdown)
            .await
            .map_err(|e| Error::from(e.to_string()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.app.shutdown_token().cancel();
    }
}

/// This node's MCP URL as the other nodes reach it: `advertise_url`, else
/// the bound address (unusable by others when it is a wildcard: said once).
pub(crate) fn advertise_url(config: &Config, addr: SocketAddr) -> String {
    if let Some(url) = &config.advertise_url {
        return url.clone();
    }
    if addr.ip().is_unspecified() && config.store == switchboard_server::StoreKind::Redis {
        tracing::warn!(
            "listening on {addr} without advertise_url: other nodes cannot forward per_session \
             upstream calls here; set advertise_url to this node's reachable http://host:port/mcp"
        );
    }
    format!("http://{addr}/mcp")
}

/// The listen backlog asked of the kernel (which caps it at
/// `net.core.somaxconn`, 4096 on current Linux). Tokio's default, 1024, is
/// too short for a burst of a few thousand connects at once: the kernel
/// then drops SYNs, and each dropped client waits a second to retry.
const BACKLOG: u32 = 4096;

/// Bind the main listener at `addr`, with address reuse (as
/// `TcpListener::bind`) and a backlog of [`BACKLOG`].
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The admin listener, bound now (so a taken port fails the start), if an
/// admin token is configured; otherwise one line on how to enable it.
pub(crate) async fn bind_admin(config: &Config) -> Result<Option<TcpListener>, String> {
    let admin = &config.admin;
    if admin.token_sha256.is_none() {
        tracing::info!(
            "admin API off: set [admin] token_sha256 (see `switchboard keys new --admin`) to serve it on {}",
            admin.listen
        );
        return Ok(None);
    }
    TcpListener::bind(admin.listen)
        .await
        .map(Some)
        .map_err(|e| format!("cannot listen on {} (admin): {e}", admin.listen))
}

/// Serve the admin API beside the main listener until the app shuts down.
pub(crate) fn run_admin(listener: TcpListener, app: &App) -> Result<SocketAddr, String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let stop = app.shutdown_token().clone();
    tokio::spawn(switchboard_server::serve_admin(
        listener,
        app.clone(),
        async move { stop.cancelled().await },
    ));
    Ok(addr)
}
