//! The Redis rate limiter against a real redis-server: the memory
//! limiter's decisions, one budget shared by several nodes, keys that
//! expire, and a fast error while Redis is down.

use crate::support;

use std::time::Duration;

use support::RedisProcess;
use switchboard_limits::{Decision, LimiterError, MemoryRateLimiter, Rate, RateLimiter};
use switchboard_store_redis::RedisRateLimiter;

/// 5 at once, then one per 100 s: nothing is earned back during a test.
fn slow() -> Rate {
    Rate::new(0.01, 5).expect("valid rate")
}

async fn run(limiter: &dyn RateLimiter, key: &str, rate: Rate, n: usize) -> Vec<Decision> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(limiter.check(key, rate).await.expect("check"));
    }
    out
}

#[tokio::test]
async fn burst_then_deny_like_the_memory_limiter() {
    let server = RedisProcess::start();
    let redis = RedisRateLimiter::new(support::connect(&server, "rate").await);
    let memory = MemoryRateLimiter::new();
    let rate = slow();
    let got = run(&redis, "k", rate, 7).await;
    let want = run(&memory, "k", rate, 7).await;
    let allowed = |d: &[Decision]| {
        d.iter()
            .filter_map(|d| match d {
                Decision::Allowed { remaining } => Some(*remaining),
                Decision::Limited { .. } => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(allowed(&got), vec![4, 3, 2, 1, 0]);
    assert_eq!(allowed(&got), allowed(&want));
    let interval = rate.emission_interval().as_secs_f64();
    for (g, w) in got[5..].iter().zip(&want[5..]) {
        let (Decision::Limited { retry_after: g }, Decision::Limited { retry_after: w }) = (g, w)
        else {
            panic!("expected both limited, got {g:?} and {w:?}");
        };
        // Both: the interval less the (small) time since the first call.
        for r in [g, w] {
            let ratio = r.as_secs_f64() / interval;
            assert!(
                (0.99..=1.0).contains(&ratio),
                "retry_after {r:?} for an interval of {interval} s"
            );
        }
    }
    // Other keys are untouched.
    assert_eq!(
        redis.check("other", rate).await.expect("check"),
        Decision::Allowed { remaining: 4 }
    );
    assert_eq!(redis.sweep().await, 0);
}

#[tokio::test]
async fn a_fast_rate_earns_tokens_back() {
    let server = RedisProcess::start();
    let redis = RedisRateLimiter::new(support::connect(&server, "rate-fast").await);
    // One token per 20 ms, burst 1.
    let rate = Rate::new(50.0, 1).expect("valid rate");
    assert_eq!(
        redis.check("k", rate).await.expect("check"),
        Decision::Allowed { remaining: 0 }
    );
    match redis.check("k", rate).await.expect("check") {
        Decision::Limited { retry_after } => assert!(
            retry_after <= Duration::from_millis(20),
            "retry_after {retry_after:?}"
        ),
        // Only if the machine stalled for a whole interval in between.
        Decision::Allowed { .. } => {}
    }
    tokio::time::sleep(Duration::from_millis(25)).await;
    assert_eq!(
        redis.check("k", rate).await.expect("check"),
        Decision::Allowed { remaining: 0 }
    );
}

#[tokio::test]
async fn huge_windows_keep_exact_counts() {
    let server = RedisProcess::start();
    let redis = RedisRateLimiter::new(support::connect(&server, "rate-huge").await);
    // T = 1e18 ns and a burst of u32::MAX: T * burst is about 2^92.
    let rate = Rate::new(1e-9, u32::MAX).expect("valid rate");
    for left in [u32::MAX - 1, u32::MAX - 2, u32::MAX - 3] {
        assert_eq!(
            redis.check("k", rate).await.expect("check"),
            Decision::Allowed { remaining: left }
        );
    }
    // One token per nanosecond: a burst of 1 allows every call.
    let fast = Rate::new(1e10, 1).expect("valid rate");
    for _ in 0..3 {
        assert_eq!(
            redis.check("f", fast).await.expect("check"),
            Decision::Allowed { remaining: 0 }
        );
    }
}

#[tokio::test]
async fn two_nodes_share_one_burst() {
    let server = RedisProcess::start();
    let prefix = support::unique_prefix("rate-shared");
    let a = RedisRateLimiter::new(support::connect_prefix(&server, &prefix).await);
    let b = RedisRateLimiter::new(support::connect_prefix(&server, &prefix).await);
    let rate = slow();
    let mut allowed = 0;
    for i in 0..20 {
        let node: &dyn RateLimiter = if i % 2 == 0 { &a } else { &b };
        if let Decision::Allowed { .. } = node.check("tenant", rate).await.expect("check") {
            allowed += 1;
        }
    }
    assert_eq!(allowed, rate.burst, "the burst is shared, not per node");
}

#[tokio::test]
async fn idle_keys_expire() {
    let server = RedisProcess::start();
    let prefix = support::unique_prefix("rate-ttl");
    let limiter = RedisRateLimiter::new(support::connect_prefix(&server, &prefix).await);
    let rate = slow();
    limiter.check("k", rate).await.expect("check");
    let mut c = server.raw().await;
    let key = format!("{prefix}:rl:{{k}}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut c)
        .await
        .expect("PTTL");
    // One token taken: the TAT is one interval (100 s) ahead.
    assert!((99_000..=100_001).contains(&ttl), "PTTL {ttl}");
    let tat: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut c)
        .await
        .expect("GET");
    assert!(tat.parse::<u128>().is_ok(), "TAT {tat:?}");
}

#[tokio::test]
async fn redis_down_is_an_error_not_a_hang() {
    let mut server = RedisProcess::start();
    let limiter = RedisRateLimiter::new(support::connect(&server, "rate-down").await);
    limiter.check("k", slow()).await.expect("check");
    server.kill();
    for _ in 0..2 {
        let r = tokio::time::timeout(Duration::from_secs(10), limiter.check("k", slow()))
            .await
            .expect("the check hung while Redis was down");
        assert!(
            matches!(r, Err(LimiterError::Unavailable(_))),
            "expected Unavailable, got {r:?}"
        );
    }
}
