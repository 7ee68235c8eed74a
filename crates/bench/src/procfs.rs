//! CPU time and RSS of a process from `/proc/PID/{stat,status}` (Linux).
//! CPU time is user + system over all threads, in clock ticks of 10 ms
//! (`USER_HZ` is 100 on every Linux ABI), reported in microseconds.

use std::time::Duration;

use serde::Serialize;

/// Microseconds per clock tick (`USER_HZ` = 100).
const TICK_US: u64 = 10_000;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub cpu_us: u64,
    pub rss_kib: u64,
}

/// Read `/proc/PID` (`None`: this process).
pub(crate) fn read(pid: Option<u32>) -> Result<Usage, String> {
    let dir = pid.map_or_else(|| "/proc/self".to_owned(), |p| format!("/proc/{p}"));
    let stat = std::fs::read_to_string(format!("{dir}/stat"))
        .map_err(|e| format!("cannot read {dir}/stat: {e}"))?;
    let status = std::fs::read_to_string(format!("{dir}/status"))
        .map_err(|e| format!("cannot read {dir}/status: {e}"))?;
    let ticks = cpu_ticks(&stat).ok_or_else(|| format!("cannot parse {dir}/stat"))?;
    Ok(Usage {
        cpu_us: ticks * TICK_US,
        rss_kib: status_kib(&status, "VmRSS").unwrap_or(0),
    })
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line. The command
/// name (field 2) may hold spaces and parentheses, so fields are counted
/// from its closing parenthesis.
pub(crate) fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `Key:   1234 kB` line of `/proc/PID/status`, in KiB.
pub(crate) fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// What the server used between two readings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerUsage {
    /// The server's process id (`--pid`).
    pub pid: u32,
    /// CPU time (user + system) in µs.
    pub cpu_us: u64,
    /// CPU time per successful operation (call, setup cycle, session) in µs.
    /// `None` if no operation succeeded.
    pub cpu_per_op_us: Option<f64>,
    /// Resident memory in KiB at the start of the measured phase (`idle`:
    /// before the sessions are opened).
    pub rss_before_kib: u64,
    /// Resident memory in KiB at its end (`idle`: at the end of the hold).
    pub rss_after_kib: u64,
    /// (RSS after − before) / sessions held; `idle` only.
    pub rss_delta_per_session_bytes: Option<f64>,
}

/// Readings taken at the start of a measured phase.
#[derive(Debug)]
pub(crate) struct Meter {
    pid: Option<u32>,
    own: Usage,
    server: Option<Usage>,
}

/// The result of a [`Meter`].
#[derive(Debug, Default)]
pub(crate) struct Measured {
    pub loadgen_cpu_us: u64,
    pub server: Option<ServerUsage>,
}

impl Meter {
    /// Read this process and the server (`pid`); fails if the server cannot be read.
    pub(crate) fn start(pid: Option<u32>) -> Result<Self, String> {
        let server = pid.map(|p| read(Some(p))).transpose()?;
        Ok(Self {
            pid,
            own: read(None).unwrap_or(Usage {
                cpu_us: 0,
                rss_kib: 0,
            }),
            server,
        })
    }

    /// Read again; `ops` successful operations, `sessions` held (for RSS per session).
    pub(crate) fn finish(&self, ops: u64, sessions: Option<u64>) -> Measured {
        let own = read(None).map_or(0, |u| u.cpu_us.saturating_sub(self.own.cpu_us));
        let server = self.pid.zip(self.server).and_then(|(pid, before)| {
            let after = read(Some(pid)).ok()?;
            let cpu_us = after.cpu_us.saturating_sub(before.cpu_us);
            let delta = after.rss_kib as f64 - before.rss_kib as f64;
            Some(ServerUsage {
                pid,
                cpu_us,
                cpu_per_op_us: per(cpu_us as f64, ops),
                rss_before_kib: before.rss_kib,
                rss_after_kib: after.rss_kib,
                rss_delta_per_session_bytes: sessions.and_then(|n| per(delta * 1024.0, n)),
            })
        });
        Measured {
            loadgen_cpu_us: own,
            server,
        }
    }
}

/// `total / n`, or `None` when `n` is 0.
pub(crate) fn per(total: f64, n: u64) -> Option<f64> {
    (n > 0).then(|| total / n as f64)
}

/// Seconds as a float, for rates.
pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 2167 0 0 0 \
                    157 23 0 0 20 0 9 0 123 1000 500 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(180));
        assert_eq!(cpu_ticks("garbage"), None);
        assert_eq!(cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn parses_status() {
        let status = "Name:\tswitchboard\nVmHWM:\t   20480 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(status_kib(status, "VmRSS"), Some(12345));
        assert_eq!(status_kib(status, "VmHWM"), Some(20480));
        assert_eq!(status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn reads_this_process() {
        let u = read(None).expect("/proc/self");
        assert!(u.rss_kib > 0);
        let m = Meter::start(Some(std::process::id())).expect("meter");
        let got = m.finish(10, Some(2));
        let server = got.server.expect("server usage");
        assert_eq!(server.pid, std::process::id());
        assert!(server.rss_after_kib > 0);
        assert!(server.rss_delta_per_session_bytes.is_some());
        assert!(Meter::start(Some(u32::MAX)).is_err());
    }

    #[test]
    fn divides() {
        assert_eq!(per(10.0, 4), Some(2.5));
        assert_eq!(per(10.0, 0), None);
    }
}
