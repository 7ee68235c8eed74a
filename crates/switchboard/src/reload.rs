//! Reloading the configuration while serving: on SIGHUP, and when the
//! configuration file changes — looked at every second (its modification
//! time and a hash of its content; no file-system notification
//! dependency), applied once it has stayed the same for half a second, so
//! an editor's several writes make one reload. The new configuration is
//! read the way start-up reads it (defaults, the file, the environment,
//! `--listen`, `--mcp-config`) and handed to the [`Target`]: `App::reload` for `serve`,
//! which validates it first and logs what changed or why it was refused;
//! the upstreams alone for `stdio`. `config_watch = false` leaves reloads
//! to SIGHUP.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use switchboard_server::{App, Config};
use tokio_util::sync::CancellationToken;

/// What the command line puts over the configuration (`--listen`,
/// `--mcp-config`), at start and on every reload.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) mcp_config: Option<PathBuf>,
}

impl Overrides {
    /// The configuration from the defaults, `path`, the environment and
    /// these overrides.
    pub(crate) fn load(&self, path: Option<&Path>) -> Result<Config, String> {
        let extra = self
            .mcp_config
            .iter()
            .map(|p| ("SWITCHBOARD_MCP_CONFIG".to_owned(), p.display().to_string()));
        let mut config =
            Config::load(path, std::env::vars().chain(extra)).map_err(|e| e.to_string())?;
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        Ok(config)
    }
}

/// How often the file is looked at.
const POLL: Duration = Duration::from_secs(1);
/// How long a change must stay before it is applied.
const SETTLE: Duration = Duration::from_millis(500);

/// What a reloaded configuration is applied to.
pub(crate) trait Target: Send + Sync + 'static {
    /// Cancelled when watching should stop.
    fn stopped(&self) -> CancellationToken;
    /// Whether changes of the file reload (the running `config_watch`).
    fn config_watch(&self) -> bool;
    /// Apply a freshly loaded configuration; logs the outcome.
    fn apply(&self, config: Config) -> impl std::future::Future<Output = ()> + Send;
}

impl Target for App {
    fn stopped(&self) -> CancellationToken {
        self.shutdown_token().clone()
    }

    fn config_watch(&self) -> bool {
        self.config().config_watch
    }

    async fn apply(&self, config: Config) {
        // `App::reload` logs the outcome.
        let _ = self.reload(config).await;
    }
}

/// Watch for SIGHUP and changes of `path`; reload `app` on each, until it
/// stops.
pub(crate) fn watch<T: Target>(app: T, path: Option<PathBuf>, overrides: Overrides) {
    let stopped = app.stopped();
    tokio::spawn(async move {
        let mut hup = hangup();
        let mut seen = path.as_deref().and_then(fingerprint);
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stopped.cancelled() => return,
                Some(()) = recv(&mut hup) => {
                    tracing::info!("SIGHUP: reloading the configuration");
                    seen = path.as_deref().and_then(fingerprint);
                    reload(&app, path.as_ref(), &overrides).await;
                }
                _ = tick.tick() => {
                    let Some(p) = &path else { continue };
                    if !app.config_watch() {
                        continue;
                    }
                    let now = fingerprint(p);
                    if now.is_none() || now == seen {
                        continue;
                    }
                    // Debounce: wait until the file stops changing.
                    let mut last = now;
                    loop {
                        tokio::time::sleep(SETTLE).await;
                        let again = fingerprint(p);
                        if again == last {
                            break;
                        }
                        last = again;
                    }
                    if last.is_none() || last == seen {
                        continue;
                    }
                    seen = last;
                    tracing::info!(file = %p.display(), "the configuration file changed: reloading");
                    reload(&app, Some(p), &overrides).await;
                }
            }
        }
    });
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup() -> Hangup {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .map_err(|e| tracing::warn!("no SIGHUP reload: {e}"))
        .ok()
}

#[cfg(not(unix))]
fn hangup() -> Hangup {
    None
}

/// The next SIGHUP; never, without a handler.
async fn recv(hup: &mut Hangup) -> Option<()> {
    #[cfg(unix)]
    if let Some(s) = hup {
        return s.recv().await;
    }
    let _ = hup;
    std::future::pending().await
}

/// The file's modification time and content hash; `None` if it cannot be
/// read (an editor replacing it).
fn fingerprint(path: &Path) -> Option<(Option<SystemTime>, u64)> {
    let bytes = std::fs::read(path).ok()?;
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    Some((modified, h.finish()))
}

async fn reload<T: Target>(app: &T, path: Option<&PathBuf>, overrides: &Overrides) {
    match overrides.load(path.map(PathBuf::as_path)) {
        Ok(config) => app.apply(config).await,
        Err(e) => {
            tracing::error!("configuration reload refused, the running configuration stays: {e}")
        }
    }
}
