//! [`Builder`]: what a server is made of — its configuration (defaults,
//! then a file, then the environment, as the binary reads it), its own
//! tools, resources and prompts — and the three ways to run it: on a
//! listener ([`Builder::build`] then [`Server::serve`]), nested in an axum
//! app ([`Builder::router`]), or for one client on stdin/stdout
//! ([`Builder::serve_stdio`]).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use switchboard_runtime::{Catalog, CatalogBuilder, Tool};
use switchboard_server::{App, Config};
use tokio::net::TcpListener;

use crate::{Error, Server};

/// Where the configuration comes from.
enum Source {
    /// Defaults, then the file (if any), then `SWITCHBOARD_*` variables;
    /// read again on a reload.
    Load(Option<PathBuf>),
    /// Given as it is; nothing to reload from.
    Given(Box<Config>),
}

/// Builds a Switchboard server; start with [`Switchboard::builder`].
///
/// [`Switchboard::builder`]: crate::Switchboard::builder
pub struct Builder {
    source: Source,
    overrides: crate::reload::Overrides,
    listener: Option<TcpListener>,
    own: Option<CatalogBuilder>,
    watch: bool,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = match &self.source {
            Source::Load(path) => path.as_deref(),
            Source::Given(_) => None,
        };
        f.debug_struct("Builder")
            .field("config_file", &file)
            .field("listen", &self.overrides.listen)
            .field("mcp_config", &self.overrides.mcp_config)
            .field("tools", &self.own.as_ref().map(CatalogBuilder::tool_names))
            .field("watch_config", &self.watch)
            .finish_non_exhaustive()
    }
}

impl Builder {
    pub(crate) fn new() -> Self {
        Self {
            source: Source::Load(None),
            overrides: crate::reload::Overrides::default(),
            listener: None,
            own: None,
            watch: true,
        }
    }

    /// Read the configuration from this TOML file (over the defaults, and
    /// under the `SWITCHBOARD_*` environment variables); it is read again
    /// on SIGHUP and when it changes. Without a file (and without
    /// [`config`](Self::config)): the defaults and the environment.
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.source = Source::Load(Some(path.into()));
        self
    }

    /// Use this configuration as it is (no file, no environment, no
    /// reload).
    pub fn config(mut self, config: Config) -> Self {
        self.source = Source::Given(Box::new(config));
        self
    }

    /// Listen on `addr` whatever the configuration says (as `--listen`;
    /// kept over reloads).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.overrides.listen = Some(addr);
        self
    }

    /// Add the MCP servers of this `mcpServers` JSON file (the format of
    /// Claude Desktop, Cursor and VS Code) as upstreams, as `--mcp-config`
    /// (or the `mcp_config` key) does; read again on every reload.
    pub fn mcp_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.overrides.mcp_config = Some(path.into());
        self
    }

    /// Serve on this listener, already bound, instead of binding `listen`.
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Serve this tool ([`Tool::typed`] or [`Tool::new`]). A server with
    /// tools of its own serves them and the configured `[[upstreams]]`;
    /// one without serves the built-in toolset when no upstream is
    /// configured, as the binary does.
    pub fn tool(self, tool: Tool) -> Self {
        self.catalog(CatalogBuilder::new().tool(tool))
    }

    /// Serve what `catalog` holds: its tools, resources, prompts and shared
    /// state (and its [`ServerInfo`](switchboard_runtime::ServerInfo), if
    /// given before any [`tool`](Self::tool)). May be called several times.
    pub fn catalog(mut self, catalog: CatalogBuilder) -> Self {
        self.own = Some(match self.own.take() {
            Some(mine) => mine.merge(catalog),
            None => catalog,
        });
        self
    }

    /// Reload on SIGHUP and when the configuration file changes (on by
    /// default; the file's `config_watch = false` leaves reloads to
    /// SIGHUP). Off for a configuration given with
    /// [`config`](Self::config).
    pub fn watch_config(mut self, on: bool) -> Self {
        self.watch = on;
        self
    }

    /// Open the configured store, start the upstreams, bind the listener
    /// (and the admin listener, if `[admin]` has a token) and build the
    /// server; nothing is served until [`Server::serve`]. Fails on an
    /// invalid configuration, an unreachable store, a tool name two
    /// sources share, or an address that cannot be bound.
    pub async fn build(mut self) -> Result<Server, Error> {
        let listener = self.listener.take();
        let ready = self.prepare().await?;
        let listener = match listener {
            Some(l) => l,
            None => crate::serve::bind(ready.config.listen)
                .map_err(|e| format!("cannot listen on {}: {e}", ready.config.listen))?,
        };
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let admin = crate::serve::bind_admin(&ready.config).await?;
        let advertise = crate::serve::advertise_url(&ready.config, addr);
        let (app, store) = ready.app(advertise)?;
        let admin = admin
            .map(|l| crate::serve::run_admin(l, &app))
            .transpose()?;
        Ok(Server::new(app, listener, addr, admin, store))
    }

    /// Build the server as [`build`](Self::build) does, but without a
    /// listener of its own: the returned router (`/mcp`, the 2024-11-05
    /// `/sse` and `/messages`, `/healthz`, `/readyz`, `/metrics` and the
    /// OAuth metadata) is for nesting in an existing axum app, served by
    /// the app. The background services start now: the session reaper,
    /// the delivery of server events (list changes, resource updates) to
    /// open streams, the orphan task sweep and, on a cluster, the bus
    /// inbox, the owners' heartbeat and the fan-out; the admin API (if
    /// configured) and reloads run too.
    ///
    /// Serve the app with
    /// `into_make_service_with_connect_info::<SocketAddr>()` so that
    /// anonymous clients are told apart by address (their per-identity
    /// quotas and rates, the address in the audit trail); served
    /// otherwise, they all share one identity (give clients API keys to
    /// tell them apart):
    ///
    /// ```no_run
    /// # async fn nest() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::net::SocketAddr;
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let mcp = switchboard::Switchboard::builder()
    ///     .router(async { stopped.await.unwrap_or(()) })
    ///     .await?;
    /// let app = axum::Router::new().merge(mcp);
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
    ///     .with_graceful_shutdown(async {
    ///         tokio::signal::ctrl_c().await.unwrap();
    ///         let _ = stop.send(()); // the MCP server drains first
    ///     })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// When `shutdown` resolves, the server drains: it takes no new
    /// session, ends the standalone streams with a hint to resume, and
    /// stops the reaper and the task sweep. The connections are the app's,
    /// so instead of the accept loop's grace it waits, at most
    /// `shutdown_grace_secs`, until no request of its own is running or
    /// queued; then it stops the cluster's services (handing this node's
    /// upstream sessions over), the delivery of server events, and the
    /// upstreams. This runs on a task of its own: keep the runtime up
    /// that long. The connection caps and the HTTP limits of the accept
    /// loop are the app's to set.
    pub async fn router(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<axum::Router, Error> {
        let ready = self.prepare().await?;
        let admin = crate::serve::bind_admin(&ready.config).await?;
        let advertise = crate::serve::advertise_url(&ready.config, ready.config.listen);
        let (app, _) = ready.app(advertise)?;
        if let Some(l) = admin {
            crate::serve::run_admin(l, &app)?;
        }
        let router = app.nested_router();
        let background = app.start();
        tokio::spawn(async move {
            shutdown.await;
            app.drain();
            app.shutdown_token().cancel();
            let grace = std::time::Duration::from_secs(app.config().shutdown_grace_secs);
            if !app.settle(grace).await {
                tracing::warn!("shutdown grace period over; stopping with requests running");
            }
            background.stop().await;
            for p in app.catalog().providers().iter() {
                p.shutdown().await;
            }
        });
        Ok(router)
    }

    /// Serve one client on stdin/stdout (newline-delimited JSON-RPC; log to
    /// stderr) until the input ends or `shutdown` resolves, as `switchboard
    /// stdio` does: the server's own tools and the configured upstreams;
    /// the HTTP server's settings (listen, tenants, store…) do not apply.
    pub async fn serve_stdio(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let (config, path) = self.load()?;
        let watch = self.watch && matches!(self.source, Source::Load(_));
        let overrides = self.overrides.clone();
        crate::stdio::run(config, path, watch.then_some(overrides), self.own, shutdown)
            .await
            .map_err(Error::from)
    }

    /// The configuration, and the file a reload reads it from.
    fn load(&self) -> Result<(Config, Option<PathBuf>), Error> {
        match &self.source {
            Source::Load(path) => Ok((self.overrides.load(path.as_deref())?, path.clone())),
            Source::Given(config) => {
                let mut config = config.as_ref().clone();
                if let Some(listen) = self.overrides.listen {
                    config.listen = listen;
                }
                if let Some(file) = &self.overrides.mcp_config {
                    config.mcp_config = Some(file.clone());
                    config.add_mcp_servers()?;
                }
                Ok((config, None))
            }
        }
    }

    /// Load the configuration, start the trace exporter if configured, open
    /// the store and build the catalog.
    async fn prepare(self) -> Result<Ready, Error> {
        let (config, path) = self.load()?;
        crate::start_traces(&config)?;
        let shared = crate::stores::connect(&config).await?;
        let events = shared.as_ref().and_then(crate::stores::Shared::events);
        let bus = events
            .clone()
            .map(|e| e as Arc<dyn switchboard_runtime::EventBus>);
        let vault = crate::stores::Shared::vault(shared.as_ref(), &config)?;
        let pins = switchboard_upstream::gateway::PinBook::new(crate::stores::Shared::pins(
            shared.as_ref(),
        ));
        let oauth = switchboard_server::oauth_server(
            &config,
            crate::stores::Shared::oauth(shared.as_ref()),
            vault.clone(),
        )
        .await?;
        let built = crate::gateway::build(&config, self.own, bus, vault, pins).await?;
        let catalog = Arc::new(built.catalog);
        crate::gateway::reap_idle(catalog.clone());
        let watch = self.watch && matches!(self.source, Source::Load(_));
        Ok(Ready {
            config,
            path,
            overrides: self.overrides.clone(),
            watch,
            catalog,
            upstreams: built.upstreams,
            events,
            shared,
            oauth,
        })
    }
}

/// A server's parts once the store is open and the catalog built.
struct Ready {
    config: Config,
    path: Option<PathBuf>,
    overrides: crate::reload::Overrides,
    watch: bool,
    catalog: Arc<Catalog>,
    upstreams: switchboard_upstream::gateway::UpstreamsShared,
    events: Option<Arc<switchboard_server::ClusterEvents>>,
    shared: Option<crate::stores::Shared>,
    oauth: Option<Arc<switchboard_oauth::AuthorizationServer>>,
}

impl Ready {
    /// The app, with the store attached (`advertise`: this node's MCP URL as
    /// the other nodes reach it) and reloads watched; and the store's line
    /// for a banner.
    fn app(self, advertise: String) -> Result<(App, String), Error> {
        let mut builder = App::builder(self.config.clone(), self.catalog).upstreams(self.upstreams);
        if let Some(events) = self.events {
            builder = builder.cluster_events(events);
        }
        if let Some(oauth) = self.oauth {
            builder = builder.oauth(oauth);
        }
        let (builder, store) = crate::stores::attach(builder, &self.config, self.shared, advertise);
        let app = builder.try_build().map_err(|e| e.to_string())?;
        if self.watch {
            crate::reload::watch(app.clone(), self.path, self.overrides);
        }
        Ok((app, store))
    }
}
