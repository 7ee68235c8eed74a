//! The [`Cluster`] service: this node's part in a cluster — the bus inbox,
//! the relay of server events ([`ClusterEvents`]) and their origin fan-out,
//! and the owners of sessions' `per_session` upstream processes — started
//! as background services and stopped after the drain.

use std::sync::Arc;

use switchboard_runtime::Catalog;
use switchboard_session::Sessions;
use tokio::task::JoinHandle;

use crate::events::ClusterEvents;
use crate::inbox::Inbox;
use crate::owner::Owners;

/// This node's part in a cluster. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Cluster {
    sessions: Sessions,
    catalog: Arc<Catalog>,
    events: Option<Arc<ClusterEvents>>,
    owners: Option<Arc<Owners>>,
}

/// The background services of a started [`Cluster`].
#[derive(Debug)]
pub struct Running {
    inbox: JoinHandle<()>,
    heartbeat: Option<JoinHandle<()>>,
    fanout: Option<JoinHandle<()>>,
    owners: Option<Arc<Owners>>,
}

impl Cluster {
    /// The cluster part of a node serving `sessions` from `catalog`: with
    /// `events` (the catalog's event bus on a cluster) this node logs its
    /// own server events for GET streams held anywhere; with `owners`, a
    /// session's calls go to the node owning its upstream process.
    pub fn new(
        sessions: Sessions,
        catalog: Arc<Catalog>,
        events: Option<Arc<ClusterEvents>>,
        owners: Option<Arc<Owners>>,
    ) -> Self {
        Self {
            sessions,
            catalog,
            events,
            owners,
        }
    }

    /// The cluster's event bus, when this node logs its own events for GET
    /// streams held anywhere.
    pub fn events(&self) -> Option<&Arc<ClusterEvents>> {
        self.events.as_ref()
    }

    /// The owners of sessions' `per_session` upstream processes.
    pub fn owners(&self) -> Option<&Owners> {
        self.owners.as_deref()
    }

    /// Start the background services: the bus inbox, the owners' lease
    /// heartbeat and the fan-out of this node's server events (each only
    /// where it has work).
    pub fn start(&self) -> Running {
        let inbox = Inbox::new(self.sessions.clone(), self.catalog.clone());
        let inbox = tokio::spawn(inbox.run());
        let heartbeat = self.owners.clone().map(|o| tokio::spawn(o.heartbeat()));
        let fanout = self
            .events
            .as_ref()
            .map(|e| tokio::spawn(crate::fanout::run(self.sessions.clone(), e.origin())));
        Running {
            inbox,
            heartbeat,
            fanout,
            owners: self.owners.clone(),
        }
    }
}

impl Running {
    /// After the drain (in-flight calls done): stop renewing leases, hand
    /// this node's upstream sessions over, and stop delivering.
    pub async fn stop(self) {
        if let Some(h) = self.heartbeat {
            h.abort();
        }
        if let Some(owners) = &self.owners {
            owners.release().await;
        }
        self.inbox.abort();
        if let Some(f) = self.fanout {
            f.abort();
        }
    }
}
