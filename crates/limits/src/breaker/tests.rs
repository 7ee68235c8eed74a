use std::time::Duration;

use super::*;

fn breaker() -> Breaker {
    Breaker::new(BreakerConfig {
        failures: 3,
        rate: 0.5,
        window: 10,
        cool_down: Duration::from_secs(10),
    })
}

#[tokio::test(start_paused = true)]
async fn opens_after_consecutive_failures_then_probes_and_closes() {
    let b = breaker();
    for _ in 0..2 {
        b.attempt().unwrap().failure();
    }
    assert_eq!(b.state(), BreakerState::Closed);
    b.attempt().unwrap().failure();
    assert_eq!(b.state(), BreakerState::Open);
    let wait = b.attempt().unwrap_err();
    assert_eq!(wait, Duration::from_secs(10));
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(b.state(), BreakerState::HalfOpen);
    let probe = b.attempt().unwrap();
    // Only one probe at a time.
    assert!(b.attempt().is_err());
    probe.success();
    assert_eq!(b.state(), BreakerState::Closed);
    b.attempt().unwrap().success();
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_it_for_longer() {
    let b = breaker();
    for _ in 0..3 {
        b.attempt().unwrap().failure();
    }
    tokio::time::advance(Duration::from_secs(10)).await;
    b.attempt().unwrap().failure();
    assert_eq!(b.attempt().unwrap_err(), Duration::from_secs(20));
    tokio::time::advance(Duration::from_secs(20)).await;
    let probe = b.attempt().unwrap();
    drop(probe); // abandoned: the next caller may probe
    b.attempt().unwrap().success();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_failure_rate_opens_it_without_a_streak() {
    let b = breaker();
    // Alternate: never 3 in a row, but half of the last 10 fail.
    for i in 0..11 {
        let a = b.attempt().unwrap();
        if i % 2 == 0 { a.failure() } else { a.success() }
    }
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn successes_keep_it_closed() {
    let b = breaker();
    for _ in 0..100 {
        b.attempt().unwrap().failure();
        b.attempt().unwrap().success();
        b.attempt().unwrap().success();
    }
    assert_eq!(b.state(), BreakerState::Closed);
}
