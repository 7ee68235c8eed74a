//! Connections: open ones by pool, the ones refused as they were accepted
//! (by reason), and failed accepts (by listener and kind). The pools and
//! reasons are closed sets defined here, so every series exists from the
//! start.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::metrics::build::registered;
use crate::metrics::requests::Reason;

/// Where an admitted connection is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// The MCP listener, under `max_connections`.
    Main,
    /// The MCP listener's probe reserve, past `max_connections`.
    Probe,
    /// The admin listener.
    Admin,
}

impl Pool {
    /// Every pool.
    pub const ALL: [Pool; 3] = [Pool::Main, Pool::Probe, Pool::Admin];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Pool::Main => "main",
            Pool::Probe => "probe",
            Pool::Admin => "admin",
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` and the probe reserve are full.
    Total,
    /// The address holds `max_connections_per_address`.
    PerAddress,
    /// The admin listener holds `admin.max_connections`.
    Admin,
    /// A connection of the probe reserve asked for more than a probe.
    ProbeOnly,
}

impl Refusal {
    /// Every reason.
    pub const ALL: [Refusal; 4] = [
        Refusal::Total,
        Refusal::PerAddress,
        Refusal::Admin,
        Refusal::ProbeOnly,
    ];

    /// The metric label, and the reason in the 503's message.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Total => "total_cap",
            Refusal::PerAddress => "per_address_cap",
            Refusal::Admin => "admin_cap",
            Refusal::ProbeOnly => "probe_only",
        }
    }
}

/// The kinds of failed accept (the metric's `kind`): out of file
/// descriptors, out of memory, the client left first, anything else.
pub const ACCEPT_ERROR_KINDS: [&str; 4] = ["descriptors", "memory", "aborted", "other"];

/// The listeners whose accepts are counted.
const LISTENERS: [&str; 2] = ["mcp", "admin"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnPool {
    pool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AcceptError {
    listener: &'static str,
    kind: &'static str,
}

/// The connection families (a clone counts in the same families).
#[derive(Debug, Clone)]
pub struct Connections {
    open: Family<ConnPool, Gauge>,
    refused: Family<Reason, Counter>,
    accept_errors: Family<AcceptError, Counter>,
}

impl Connections {
    pub(crate) fn register(r: &mut Registry) -> Self {
        let c = Self {
            open: registered(
                r,
                "connections_open",
                "Open connections by pool: main (the MCP listener, under max_connections), probe (its reserve past the cap, for health checks and scrapes only), admin",
                Family::default(),
            ),
            refused: registered(
                r,
                "connections_refused",
                "Connections refused as they were accepted, by reason (total_cap, per_address_cap, admin_cap), and probe-reserve connections refused for asking more than a probe (probe_only)",
                Family::default(),
            ),
            accept_errors: registered(
                r,
                "accept_errors",
                "Failed accepts by listener (mcp, admin) and kind (descriptors: out of file descriptors; memory; aborted: the client left first; other)",
                Family::default(),
            ),
        };
        c.create_every_series();
        c
    }

    /// Every pool, reason and kind at zero, so rates see a zero rather
    /// than no series.
    fn create_every_series(&self) {
        for pool in Pool::ALL {
            let _ = self.open.get_or_create(&ConnPool { pool: pool.label() });
        }
        for reason in Refusal::ALL {
            let _ = self.refused.get_or_create(&Reason {
                reason: reason.label(),
            });
        }
        for listener in LISTENERS {
            for kind in ACCEPT_ERROR_KINDS {
                let _ = self
                    .accept_errors
                    .get_or_create(&AcceptError { listener, kind });
            }
        }
    }

    /// A connection was admitted into `pool`.
    pub fn opened(&self, pool: Pool) {
        self.open
            .get_or_create(&ConnPool { pool: pool.label() })
            .inc();
    }

    /// A connection of `pool` ended.
    pub fn closed(&self, pool: Pool) {
        self.open
            .get_or_create(&ConnPool { pool: pool.label() })
            .dec();
    }

    /// A connection was refused.
    pub fn refused(&self, reason: Refusal) {
        self.refused
            .get_or_create(&Reason {
                reason: reason.label(),
            })
            .inc();
    }

    /// An accept on `listener` (`mcp`, `admin`) failed; `kind` is one of
    /// [`ACCEPT_ERROR_KINDS`].
    pub fn accept_failed(&self, listener: &'static str, kind: &'static str) {
        self.accept_errors
            .get_or_create(&AcceptError { listener, kind })
            .inc();
    }
}
