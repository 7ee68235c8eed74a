//! Serving one client over stdin/stdout ([`Builder::serve_stdio`], and
//! `switchboard stdio`): the same catalog an HTTP server would have from
//! the same configuration — the server's own tools and the configured
//! `[[upstreams]]` merged into one namespace (checked for collisions at
//! start), reloaded on SIGHUP and when the file changes — and every
//! upstream process ended when the input ends.
//!
//! [`Builder::serve_stdio`]: crate::Builder::serve_stdio

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;
use switchboard_runtime::{Catalog, CatalogBuilder};
use switchboard_server::{Config, StdioOptions};
use switchboard_upstream::gateway::UpstreamsShared;
use tokio_util::sync::CancellationToken;

/// Top-level keys that mean something to the stdio front.
const APPLIES: [&str; 7] = [
    "upstreams",
    "page_size",
    "max_body_bytes",
    "client_request_timeout_secs",
    "upstream_pool_size",
    "config_watch",
    "telemetry",
];

/// The top-level keys of `config` (file and environment) set to something
/// other than their default that the stdio front does not use.
fn not_applicable(config: &Config) -> Vec<String> {
    let (Ok(Value::Object(set)), Ok(Value::Object(default))) = (
        serde_json::to_value(config),
        serde_json::to_value(Config::default()),
    ) else {
        return Vec::new();
    };
    set.into_iter()
        .filter(|(k, v)| !APPLIES.contains(&k.as_str()) && default.get(k) != Some(v))
        .map(|(k, _)| k)
        .collect()
}

/// Serve stdin/stdout with `config` (loaded from `path`, which a reload
/// reads again when `watch`) until the input ends or `shutdown` resolves.
pub(crate) async fn run(
    config: Config,
    path: Option<PathBuf>,
    watch: Option<crate::reload::Overrides>,
    own: Option<CatalogBuilder>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let ignored = not_applicable(&config);
    if !ignored.is_empty() {
        tracing::warn!(
            "switchboard stdio serves one client over stdin/stdout: these settings are for the HTTP \
             server and are ignored here: {}",
            ignored.join(", ")
        );
    }
    crate::start_traces(&config)?;
    let built = crate::gateway::build(&config, own, None, None, Default::default()).await?;
    let catalog = Arc::new(built.catalog);
    crate::gateway::reap_idle(catalog.clone());
    let stop = CancellationToken::new();
    let upstreams = Arc::new(Upstreams {
        catalog: catalog.clone(),
        config: Mutex::new(config.clone()),
        upstreams: built.upstreams,
        stop: stop.clone(),
    });
    if let Some(overrides) = watch {
        crate::reload::watch(upstreams, path, overrides);
    }
    let mut options = StdioOptions::new(config.max_body_bytes);
    options.client_request_timeout = config.client_request_timeout();
    options.max_session_bytes = config.max_session_bytes;
    let served = serve(catalog.clone(), options, shutdown).await;
    stop.cancel();
    for p in catalog.providers().iter() {
        p.shutdown().await;
    }
    served
}

/// Serve stdin/stdout until the input ends (or `shutdown` resolves).
async fn serve(
    catalog: Arc<Catalog>,
    options: StdioOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let input: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match stdin_pipe() {
        Some(pipe) => Box::new(pipe),
        None => Box::new(tokio::io::stdin()),
    };
    let output: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match stdout_pipe() {
        Some(pipe) => Box::new(pipe),
        None => Box::new(tokio::io::stdout()),
    };
    let served = switchboard_server::serve_stdio_with(catalog, input, output, options);
    tokio::select! {
        r = served => r.map_err(|e| e.to_string()),
        () = shutdown => Ok(()),
    }
}

/// The stdio front's upstreams, as a reload sees them.
struct Upstreams {
    catalog: Arc<Catalog>,
    /// The configuration running now.
    config: Mutex<Config>,
    upstreams: UpstreamsShared,
    stop: CancellationToken,
}

impl Upstreams {
    fn running(&self) -> Config {
        self.config.lock().clone()
    }
}

impl crate::reload::Target for Arc<Upstreams> {
    fn stopped(&self) -> CancellationToken {
        self.stop.clone()
    }

    fn config_watch(&self) -> bool {
        self.running().config_watch
    }

    async fn apply(&self, new: Config) {
        let old = self.running();
        let reloaded =
            switchboard_server::reload_upstreams(&self.catalog, &old, &new, self.upstreams.clone())
                .await;
        match reloaded {
            Ok(report) => {
                tracing::info!("upstreams reloaded: {report}");
                if !report.needs_restart.is_empty() {
                    tracing::warn!(
                        "changed, but only read at start-up (the running values stay until a restart): {}",
                        report.needs_restart.join(", ")
                    );
                }
                *self.config.lock() = new;
            }
            Err(e) => {
                tracing::error!("configuration reload refused, the running upstreams stay: {e}")
            }
        }
    }
}

/// Stdin as a non-blocking pipe read on the runtime itself, when it is a
/// pipe (as under a gateway or a desktop client): `tokio::io::stdin` hands
/// every read to a blocking thread, a thread switch both ways per line.
fn stdin_pipe() -> Option<tokio::net::unix::pipe::Receiver> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok()
}

/// Stdout as a non-blocking pipe (as [`stdin_pipe`]), unless stderr is the
/// same pipe: the logs written there expect it blocking.
fn stdout_pipe() -> Option<tokio::net::unix::pipe::Sender> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let out = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned().ok()?);
    let err = std::fs::File::from(std::io::stderr().as_fd().try_clone_to_owned().ok()?);
    let (o, e) = (out.metadata().ok()?, err.metadata().ok()?);
    if (o.dev(), o.ino()) == (e.dev(), e.ino()) {
        return None;
    }
    tokio::net::unix::pipe::Sender::from_file(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_settings_that_are_set_are_named() {
        let config = Config::from_toml(
            "listen = \"127.0.0.1:9\"\npage_size = 5\n[admin]\nlisten = \"127.0.0.1:10\"\n\
             [[tenants]]\nid = \"t\"\n",
        )
        .unwrap();
        let mut named = not_applicable(&config);
        named.sort();
        assert_eq!(named, ["admin", "listen", "tenants"]);
        assert!(not_applicable(&Config::default()).is_empty());
    }
}
