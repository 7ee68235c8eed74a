//! Connection caps. The MCP listener holds at most `max_connections`
//! connections, and one client address at most
//! `max_connections_per_address` of them (addresses in
//! `per_address_exempt` excepted); past the total, `probe_connections` more
//! are taken for health checks and scrapes only; the admin listener has its
//! own `admin.max_connections`. All of them sit below the process's
//! open-file limit, with a reserve kept for upstreams, stores and files, so
//! a connection flood can no longer take the descriptors `/healthz` needs.
//!
//! A connection over a cap is refused as it is accepted: counted
//! (`switchboard_connections_refused_total`), logged at most once every
//! 10 s, answered with a fixed 503 if the socket takes it at once, and
//! closed — it never reaches hyper.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, MutexGuard};
use switchboard_config::{Config, Live};
use switchboard_observe::metrics::Connections;
pub use switchboard_observe::metrics::{Pool, Refusal};
use switchboard_observe::throttle::{LOG_EVERY, Throttle};
use tokio::net::TcpStream;

use crate::error::TransportError;

/// Descriptors assumed when the open-file limit is unlimited or unknown.
const UNLIMITED: u64 = 1 << 20;

/// The caps in effect: the configuration's, under the ceiling the
/// open-file limit sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections the MCP listener holds (`max_connections`, lowered to
    /// the ceiling).
    pub total: usize,
    /// Connections of one client address (`max_connections_per_address`).
    pub per_address: usize,
    /// Connections past the total for probes (`probe_connections`).
    pub probes: usize,
    /// Connections the admin listener holds (`admin.max_connections`).
    pub admin: usize,
}

impl Limits {
    /// The caps of `c` in a process that may open `descriptors` files.
    pub fn of(c: &Config, descriptors: u64) -> Self {
        let ceiling = ceiling(c, descriptors);
        let total = c.max_connections.map_or(ceiling, |n| n.min(ceiling));
        let per_address = c
            .max_connections_per_address
            .unwrap_or(total / 2)
            .clamp(1, total);
        Self {
            total,
            per_address,
            probes: c.probe_connections,
            admin: c.admin.max_connections,
        }
    }
}

/// The most connections the MCP listener may hold: the descriptors less a
/// reserve of a tenth (at least 256, and at least the probe reserve and
/// the admin listener's cap plus 64), but never less than half of them.
pub fn ceiling(c: &Config, descriptors: u64) -> usize {
    let descriptors = usize::try_from(descriptors).unwrap_or(usize::MAX);
    let listeners = c
        .probe_connections
        .saturating_add(c.admin.max_connections)
        .saturating_add(64);
    let reserve = (descriptors / 10).max(256).max(listeners);
    descriptors
        .saturating_sub(reserve)
        .max(descriptors / 2)
        .max(1)
}

/// The process's open-file limit (the soft one).
pub fn descriptor_limit() -> u64 {
    use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) if soft != RLIM_INFINITY => soft,
        _ => UNLIMITED,
    }
}

/// The open connections, by pool and by address.
#[derive(Debug, Default)]
struct Counts {
    main: usize,
    probe: usize,
    admin: usize,
    per_address: HashMap<IpAddr, usize>,
}

#[derive(Debug)]
struct Inner {
    /// The configuration in effect (caps are read at each admission: a
    /// reload may change them).
    config: Live<Config>,
    metrics: Connections,
    descriptors: u64,
    counts: Mutex<Counts>,
    refusals: Throttle,
}

/// The node's connections under their caps: the counts, the open-file
/// limit they live under, and admitting or refusing a connection. Cheap to
/// clone; every clone counts the same connections.
#[derive(Debug, Clone)]
pub struct Conns(Arc<Inner>);

impl Conns {
    /// Connections counted under the caps of `config`, in a process that
    /// may open `descriptors` files ([`descriptor_limit`]), in `metrics`.
    pub fn new(config: Live<Config>, metrics: Connections, descriptors: u64) -> Self {
        Self(Arc::new(Inner {
            config,
            metrics,
            descriptors,
            counts: Mutex::default(),
            refusals: Throttle::new(LOG_EVERY),
        }))
    }

    /// The open-file limit the caps were derived from.
    pub fn descriptors(&self) -> u64 {
        self.0.descriptors
    }

    /// The connection metrics (also where accept failures are counted).
    pub fn metrics(&self) -> &Connections {
        &self.0.metrics
    }

    /// The caps in effect now (the configuration may be reloaded).
    pub fn limits(&self) -> Limits {
        Limits::of(&self.0.config.load(), self.0.descriptors)
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.0.counts.lock()
    }

    /// Open connections of `pool`.
    pub fn open(&self, pool: Pool) -> usize {
        let c = self.counts();
        match pool {
            Pool::Main => c.main,
            Pool::Probe => c.probe,
            Pool::Admin => c.admin,
        }
    }

    /// Admit a connection from `peer` to the MCP listener, or refuse it
    /// (counted and, at most every 10 s, logged).
    pub fn admit(&self, peer: IpAddr) -> Result<Admitted, Refusal> {
        let c = self.0.config.load();
        let limits = Limits::of(&c, self.0.descriptors);
        let peer = peer.to_canonical();
        let exempt = c
            .per_address_exempt
            .iter()
            .any(|e| e.to_canonical() == peer);
        let ip = (!exempt).then_some(peer);
        let taken = self.take(&limits, ip);
        self.admitted(taken, ip, &limits)
    }

    /// Admit a connection to the admin listener, or refuse it.
    pub fn admit_admin(&self) -> Result<Admitted, Refusal> {
        let limits = self.limits();
        let taken = self.take_admin(&limits);
        self.admitted(taken, None, &limits)
    }

    fn admitted(
        &self,
        taken: Result<Pool, Refusal>,
        ip: Option<IpAddr>,
        limits: &Limits,
    ) -> Result<Admitted, Refusal> {
        match taken {
            Ok(pool) => {
                self.0.metrics.opened(pool);
                Ok(Admitted {
                    conns: self.clone(),
                    pool,
                    ip,
                })
            }
            Err(reason) => {
                self.refused(reason, limits);
                Err(reason)
            }
        }
    }

    /// Count a refusal, and log it unless a line was written less than
    /// 10 s ago (that line's count says how many it stands for).
    pub fn refused(&self, reason: Refusal, limits: &Limits) {
        self.0.metrics.refused(reason);
        if let Some(refused) = self.0.refusals.hit(Instant::now()) {
            tracing::warn!(
                reason = reason.label(),
                refused,
                max_connections = limits.total,
                max_connections_per_address = limits.per_address,
                probe_connections = limits.probes,
                admin_max_connections = limits.admin,
                "refusing connections over a connection cap (counted in \
                 switchboard_connections_refused_total; logged at most every 10 s)"
            );
        }
    }

    /// A place on the MCP listener for a connection from `ip` (`None`:
    /// exempt from the per-address cap), or why not.
    fn take(&self, limits: &Limits, ip: Option<IpAddr>) -> Result<Pool, Refusal> {
        let mut c = self.counts();
        if let Some(ip) = ip
            && c.per_address.get(&ip).copied().unwrap_or(0) >= limits.per_address
        {
            return Err(Refusal::PerAddress);
        }
        let pool = if c.main < limits.total {
            c.main += 1;
            Pool::Main
        } else if c.probe < limits.probes {
            c.probe += 1;
            Pool::Probe
        } else {
            return Err(Refusal::Total);
        };
        if let Some(ip) = ip {
            *c.per_address.entry(ip).or_default() += 1;
        }
        Ok(pool)
    }

    /// A place on the admin listener, or why not.
    fn take_admin(&self, limits: &Limits) -> Result<Pool, Refusal> {
        let mut c = self.counts();
        if c.admin >= limits.admin {
            return Err(Refusal::Admin);
        }
        c.admin += 1;
        Ok(Pool::Admin)
    }

    /// A connection taken by [`Conns::take`] or [`Conns::take_admin`] ended.
    fn give_back(&self, pool: Pool, ip: Option<IpAddr>) {
        let mut c = self.counts();
        let n = match pool {
            Pool::Main => &mut c.main,
            Pool::Probe => &mut c.probe,
            Pool::Admin => &mut c.admin,
        };
        *n = n.saturating_sub(1);
        if let Some(ip) = ip
            && let Some(n) = c.per_address.get_mut(&ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_address.remove(&ip);
            }
        }
    }
}

/// A connection's place under its cap, given back when dropped (when the
/// connection's task ends).
#[derive(Debug)]
pub struct Admitted {
    conns: Conns,
    pool: Pool,
    /// The address it is counted under, unless exempt.
    ip: Option<IpAddr>,
}

impl Admitted {
    /// The pool the connection was admitted into.
    pub fn pool(&self) -> Pool {
        self.pool
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.conns.give_back(self.pool, self.ip);
        self.conns.0.metrics.closed(self.pool);
    }
}

/// Refuse an accepted connection: read what it sent already (so closing
/// does not reset it and lose the answer), write the 503 if the socket
/// takes it at once, close. Never waits: a refusal costs a few syscalls.
pub fn refuse(stream: TcpStream, reason: Refusal) {
    let mut sink = [0u8; 2048];
    let _ = stream.try_read(&mut sink);
    let _ = stream.try_write(&refusal_bytes(reason));
}

/// The HTTP/1.1 answer of a refused connection: 503, `Retry-After: 1`, the
/// JSON-RPC error body every 503 of the server has, and `Connection: close`.
pub fn refusal_bytes(reason: Refusal) -> Vec<u8> {
    let body = switchboard_proto::error_json(None, &TransportError::from(reason).rpc());
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_observe::metrics::Metrics;

    fn config(text: &str) -> Config {
        Config::from_toml(text).expect("config")
    }

    #[test]
    fn the_ceiling_keeps_a_reserve_below_the_open_file_limit() {
        let c = config("");
        assert_eq!(ceiling(&c, 20_000), 18_000, "a tenth kept");
        assert_eq!(ceiling(&c, 1024), 768, "at least 256 kept");
        assert_eq!(ceiling(&c, 256), 128, "never less than half");
        let l = Limits::of(&c, 20_000);
        assert_eq!((l.total, l.per_address), (18_000, 9_000));
        let l = Limits::of(&config("max_connections = 30000"), 20_000);
        assert_eq!(
            l.total, 18_000,
            "a configured cap above the ceiling is lowered"
        );
        let l = Limits::of(
            &config("max_connections = 100\nmax_connections_per_address = 7"),
            20_000,
        );
        assert_eq!((l.total, l.per_address), (100, 7));
    }

    #[test]
    fn bad_caps_are_refused_naming_the_key() {
        for (bad, key) in [
            ("max_connections = 0", "max_connections"),
            (
                "max_connections_per_address = 0",
                "max_connections_per_address",
            ),
            (
                "max_connections = 10\nmax_connections_per_address = 11",
                "max_connections_per_address",
            ),
            ("[admin]\nmax_connections = 0", "admin.max_connections"),
            (
                "per_address_exempt = [\"not an address\"]",
                "per_address_exempt",
            ),
        ] {
            let e = Config::from_toml(bad).unwrap_err();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }

    #[test]
    fn places_are_counted_per_pool_and_address_and_given_back() {
        let limits = Limits {
            total: 3,
            per_address: 2,
            probes: 1,
            admin: 1,
        };
        let conns = Conns::new(
            Live::new(Config::default()),
            Metrics::new().connections.clone(),
            20_000,
        );
        let a_ip = IpAddr::from([10, 0, 0, 1]);
        let (a, b) = (Some(a_ip), Some(IpAddr::from([10, 0, 0, 2])));
        assert_eq!(conns.take(&limits, a), Ok(Pool::Main));
        assert_eq!(conns.take(&limits, a), Ok(Pool::Main));
        assert_eq!(conns.take(&limits, a), Err(Refusal::PerAddress));
        assert_eq!(conns.take(&limits, b), Ok(Pool::Main));
        assert_eq!(conns.take(&limits, None), Ok(Pool::Probe), "the reserve");
        assert_eq!(conns.take(&limits, None), Err(Refusal::Total));
        assert_eq!(conns.take_admin(&limits), Ok(Pool::Admin));
        assert_eq!(conns.take_admin(&limits), Err(Refusal::Admin));
        conns.give_back(Pool::Main, a);
        assert_eq!(
            conns.take(&limits, a),
            Ok(Pool::Main),
            "a's place came back"
        );
        for _ in 0..3 {
            conns.give_back(Pool::Main, a);
        }
        assert_eq!(conns.open(Pool::Main), 0, "never below zero");
        assert!(
            !conns.counts().per_address.contains_key(&a_ip),
            "an address with no connection is forgotten"
        );
    }

    #[test]
    fn the_refusal_is_a_complete_503_with_a_json_rpc_error() {
        let bytes = String::from_utf8(refusal_bytes(Refusal::Total)).unwrap();
        let (head, body) = bytes.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            v["error"]["code"],
            switchboard_proto::ErrorCode::SERVER_BUSY.0,
            "{v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("total_cap")
        );
    }
}
