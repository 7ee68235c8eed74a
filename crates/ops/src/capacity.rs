//! The capacity gauges: how full each cap of the node is, with a warning
//! past 90 %.

use crate::ops::Ops;

/// Past this share of a cap, the node warns.
const WARN_AT: f64 = 0.9;

impl Ops {
    /// Update the capacity gauges and warn for every cap past 90 %.
    pub async fn check_capacity(&self) {
        let p = self.parts();
        let c = p.config.load();
        let m = &p.metrics;
        let sessions = match p.sessions.store().count().await {
            Ok(n) => {
                m.node.ready.set(1);
                n
            }
            Err(_) => {
                m.node.ready.set(0);
                m.node.store_failed("count");
                0
            }
        };
        let adm = p.gate.admission().stats();
        m.sessions.open.set(sessions as i64);
        m.requests.in_flight.set(adm.in_flight as i64);
        m.requests.queue_depth.set(adm.queued as i64);
        m.requests.in_hand.set(p.gate.arrivals().present() as i64);
        m.sessions
            .event_log_bytes
            .set(p.sessions.event_log().bytes() as i64);
        let conns = p.conns.limits();
        let open = p.conns.open(switchboard_http::conns::Pool::Main);
        let ratios = [
            ("sessions", sessions as f64 / c.max_sessions as f64),
            ("connections", open as f64 / conns.total as f64),
            ("in_flight", adm.in_flight as f64 / adm.max_in_flight as f64),
            (
                "queue",
                if adm.max_queue == 0 {
                    0.0
                } else {
                    adm.queued as f64 / adm.max_queue as f64
                },
            ),
        ];
        for (resource, ratio) in ratios {
            m.node.set_capacity(resource, ratio);
            if ratio >= WARN_AT {
                tracing::warn!(resource, ratio, "capacity warning: past 90 % of the cap");
            }
        }
    }
}
