//! An upstream's own limits: at most `max_concurrency` requests in flight
//! and at most `rate_per_sec` (with `burst`) sent, for upstreams wrapping a
//! rate-limited API. Waiters queue fairly across tenants and, within a
//! tenant, across sessions (switchboard_limits' [`Admission`]); the rate is
//! a GCRA ([`MemoryRateLimiter`]) taken in the same fair order. A request
//! that would wait past the deadline gets a -32000 error with a retry hint.

use std::time::Duration;

use serde_json::json;
use switchboard_limits::{
    Admission, Decision, MemoryRateLimiter, Permit, Rate, RateLimiter, Ticket,
};
use switchboard_proto::{ErrorCode, RpcError};
use switchboard_runtime::Caller;
use tokio::time::Instant;

use super::config::UpstreamConfig;

/// Requests that may wait for an upstream's limits at once.
const MAX_QUEUE: usize = 4096;

/// The limits of one upstream.
#[derive(Debug)]
pub(crate) struct Limits {
    name: String,
    wait: Duration,
    concurrency: Option<(Admission, usize)>,
    rate: Option<RateGate>,
}

/// A rate and the one-at-a-time turn to take its tokens in fair order.
#[derive(Debug)]
struct RateGate {
    rate: Rate,
    turn: Admission,
    limiter: MemoryRateLimiter,
}

/// What a request holds while it runs: its in-flight place, if capped.
#[derive(Debug)]
pub(crate) struct Admitted(#[allow(dead_code)] Option<Permit>);

impl Limits {
    pub(crate) fn new(config: &UpstreamConfig) -> Self {
        Self {
            name: config.name.clone(),
            wait: Duration::from_millis(config.pool_wait_ms),
            concurrency: (config.max_concurrency > 0).then(|| {
                (
                    Admission::new(config.max_concurrency, MAX_QUEUE),
                    config.max_concurrency,
                )
            }),
            rate: Rate::new(config.rate_per_sec, config.burst.max(1)).map(|rate| RateGate {
                rate,
                turn: Admission::new(1, MAX_QUEUE),
                limiter: MemoryRateLimiter::new(),
            }),
        }
    }

    /// Requests running in this upstream now, if it has a concurrency cap.
    pub(crate) fn in_flight(&self) -> Option<usize> {
        self.concurrency.as_ref().map(|(a, _)| a.stats().in_flight)
    }

    /// Wait for `caller`'s turn: a place under the concurrency cap, then a
    /// token of the rate; an error once the wait would pass the deadline.
    pub(crate) async fn enter(&self, caller: &Caller) -> Result<Admitted, RpcError> {
        let deadline = Instant::now() + self.wait;
        let key = caller.session.as_deref().unwrap_or(&caller.subject);
        let ticket = Ticket {
            tenant: &caller.tenant,
            weight: 1,
            max_running: None,
            max_queued: None,
            key,
        };
        let permit = match &self.concurrency {
            None => None,
            Some((admission, max)) => Some(admission.admit(ticket, self.wait).await.map_err(
                |rejected| {
                    self.busy(
                        "concurrency",
                        format!(
                            "upstream {} has its {max} requests in flight ({})",
                            self.name,
                            rejected.reason().replace('_', " ")
                        ),
                        self.wait,
                    )
                },
            )?),
        };
        if let Some(gate) = &self.rate {
            self.take_token(gate, ticket, deadline).await?;
        }
        Ok(Admitted(permit))
    }

    /// One token of the rate, waiting in fair order for it until `deadline`.
    async fn take_token(
        &self,
        gate: &RateGate,
        ticket: Ticket<'_>,
        deadline: Instant,
    ) -> Result<(), RpcError> {
        let left = deadline.saturating_duration_since(Instant::now());
        let _turn = gate.turn.admit(ticket, left).await.map_err(|_| {
            self.busy(
                "rate",
                format!("upstream {} is at its rate limit", self.name),
                gate.rate.emission_interval(),
            )
        })?;
        loop {
            let decision = gate
                .limiter
                .check("calls", gate.rate)
                .await
                .unwrap_or(Decision::Allowed { remaining: 0 });
            match decision {
                Decision::Allowed { .. } => return Ok(()),
                Decision::Limited { retry_after } => {
                    if Instant::now() + retry_after > deadline {
                        return Err(self.busy(
                            "rate",
                            format!(
                                "upstream {} is at its rate limit ({}/s)",
                                self.name, gate.rate.per_second
                            ),
                            retry_after,
                        ));
                    }
                    tokio::time::sleep(retry_after).await;
                }
            }
        }
    }

    fn busy(&self, reason: &str, what: String, retry: Duration) -> RpcError {
        let ms = retry.as_millis().max(1);
        RpcError::new(ErrorCode::SERVER_BUSY, format!("{what}; retry in {ms} ms")).with_data(
            json!({
                "upstream": self.name,
                "reason": "limited",
                "limit": reason,
                "retryAfterMs": ms,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn caller(tenant: &str, session: &str) -> Caller {
        Caller {
            tenant: Arc::from(tenant),
            session: Some(Arc::from(session)),
            ..Caller::anonymous()
        }
    }

    fn limits(concurrency: usize, rate: f64, burst: u32, wait_ms: u64) -> Limits {
        Limits::new(&UpstreamConfig {
            name: "up".into(),
            max_concurrency: concurrency,
            rate_per_sec: rate,
            burst,
            pool_wait_ms: wait_ms,
            ..UpstreamConfig::default()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_cap_a_request_waits_then_is_refused_with_a_hint() {
        let l = limits(1, 0.0, 1, 200);
        let held = l.enter(&caller("a", "s1")).await.unwrap();
        assert_eq!(l.in_flight(), Some(1));
        let e = l.enter(&caller("b", "s2")).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::SERVER_BUSY);
        assert!(e.message.contains("retry in"), "{}", e.message);
        assert_eq!(e.data.as_ref().unwrap()["reason"], "limited");
        drop(held);
        assert!(l.enter(&caller("b", "s2")).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_spaces_requests_and_refuses_past_the_deadline() {
        // 10/s, burst 2, 150 ms of patience.
        let l = limits(0, 10.0, 2, 150);
        let who = caller("a", "s");
        let t0 = Instant::now();
        for _ in 0..2 {
            l.enter(&who).await.unwrap();
        }
        assert_eq!(Instant::now(), t0, "the burst goes at once");
        l.enter(&who).await.unwrap();
        assert_eq!(Instant::now() - t0, Duration::from_millis(100));
        // Now one token per 100 ms: a caller that can wait 150 ms gets one,
        // while a second one queued behind it would need 200 ms.
        let other = caller("b", "t");
        let (a, b) = tokio::join!(l.enter(&who), l.enter(&other));
        assert!(a.is_ok());
        let e = b.unwrap_err();
        assert!(e.message.contains("rate limit"), "{}", e.message);
        assert_eq!(l.in_flight(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn turns_alternate_between_tenants() {
        let l = Arc::new(limits(1, 0.0, 1, 10_000));
        let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let held = l.enter(&caller("a", "a0")).await.unwrap();
        let mut tasks = Vec::new();
        // Tenant a queues three requests, then tenant b one.
        for (tenant, session) in [("a", "a1"), ("a", "a2"), ("a", "a3"), ("b", "b1")] {
            let (l, order) = (l.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let p = l.enter(&caller(tenant, session)).await.unwrap();
                order.lock().push(session);
                tokio::time::sleep(Duration::from_millis(10)).await;
                drop(p);
            }));
            tokio::task::yield_now().await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().clone();
        assert!(
            order[..2].contains(&"b1"),
            "b is not starved by a: {order:?}"
        );
    }
}
