//! The app's background work, owned by the app: the session reaper, the
//! notifier (server events to the sessions' GET streams), the orphan task
//! sweep and the cluster's services (bus inbox, lease heartbeat, fan-out),
//! started together by [`App::start`] and stopped in one order by
//! [`Background::stop`].
//!
//! The order of a stop is the node's drain: the reaper and the sweep stop
//! when it begins (the app's shutdown token, which they watch, is
//! cancelled), so no session is ended and no task taken over while calls
//! finish; the cluster stops once the calls in flight are done (its owners
//! hand this node's upstream sessions over); the notifier stops last, so
//! the events of those last calls still reach the streams.

use std::time::Duration;

use switchboard_cluster::Running;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::App;

/// How often [`App::settle`] looks at the admission's counts.
const SETTLE_POLL: Duration = Duration::from_millis(20);

/// The background services of a started [`App`]; stop them with
/// [`Background::stop`] (dropped, they run on until the runtime ends).
#[derive(Debug)]
#[must_use = "the services run until `stop`: keep it to stop them in order"]
pub struct Background {
    /// The app's shutdown token: the reaper and the sweep watch it.
    shutdown: CancellationToken,
    reaper: JoinHandle<()>,
    sweep: JoinHandle<()>,
    cluster: Running,
    /// The notifier's own signal: it outlives the drain.
    notifier_stop: CancellationToken,
    notifier: JoinHandle<()>,
}

impl App {
    /// Start the app's background services: the session reaper, the
    /// notifier, the orphan task sweep and the cluster's services. Call it
    /// once per app, from inside a Tokio runtime; [`serve`](crate::serve)
    /// does.
    pub fn start(&self) -> Background {
        let shutdown = self.shutdown_token().clone();
        let notifier_stop = CancellationToken::new();
        Background {
            reaper: tokio::spawn(self.ops().clone().run_reaper(shutdown.clone())),
            sweep: tokio::spawn(self.tasks().clone().run_sweep(shutdown.clone())),
            cluster: self.cluster().start(),
            notifier: tokio::spawn(self.sessions().clone().run_notifier(notifier_stop.clone())),
            notifier_stop,
            shutdown,
        }
    }

    /// Wait, at most `grace`, until no request is running or queued for
    /// admission; whether that happened. For a drain without an accept
    /// loop of its own (a nested router), where the connections are not
    /// the app's to watch.
    pub async fn settle(&self, grace: Duration) -> bool {
        let idle = || {
            let s = self.gate().admission().stats();
            s.in_flight == 0 && s.queued == 0
        };
        tokio::time::timeout(grace, async {
            while !idle() {
                tokio::time::sleep(SETTLE_POLL).await;
            }
        })
        .await
        .is_ok()
    }
}

impl Background {
    /// Stop every service, in the drain's order: the reaper and the sweep
    /// (if the app's shutdown token was not cancelled yet, it is now),
    /// then the cluster (its owners hand this node's upstream sessions
    /// over), then the notifier. Call it once the calls in flight are done
    /// or their grace is over.
    pub async fn stop(self) {
        self.shutdown.cancel();
        // Both end at their next wait once the token is cancelled.
        let _ = self.reaper.await;
        let _ = self.sweep.await;
        self.cluster.stop().await;
        self.notifier_stop.cancel();
        let _ = self.notifier.await;
    }
}
