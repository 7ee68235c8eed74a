use std::sync::Arc;
use std::time::Duration;

use tokio::time::advance;

use super::*;

const MS: Duration = Duration::from_millis(1);

fn ten_per_second_burst_five() -> Rate {
    Rate::new(10.0, 5).unwrap()
}

async fn allowed(l: &MemoryRateLimiter, key: &str, rate: Rate) -> bool {
    matches!(l.check(key, rate).await.unwrap(), Decision::Allowed { .. })
}

#[test]
fn rates_are_checked() {
    assert!(Rate::new(0.0, 1).is_none());
    assert!(Rate::new(-1.0, 1).is_none());
    assert!(Rate::new(f64::NAN, 1).is_none());
    assert!(Rate::new(f64::INFINITY, 1).is_none());
    assert!(Rate::new(1.0, 0).is_none());
    let r = Rate::new(4.0, 1).unwrap();
    assert_eq!(r.emission_interval(), Duration::from_millis(250));
    assert_eq!(
        Rate::new(3.0, 1).unwrap().emission_interval(),
        Duration::from_nanos(333_333_333)
    );
}

#[tokio::test(start_paused = true)]
async fn burst_then_one_per_interval() {
    let l = MemoryRateLimiter::new();
    let rate = ten_per_second_burst_five();
    for remaining in (0..5).rev() {
        assert_eq!(
            l.check("k", rate).await.unwrap(),
            Decision::Allowed { remaining }
        );
    }
    assert_eq!(
        l.check("k", rate).await.unwrap(),
        Decision::Limited {
            retry_after: Duration::from_millis(100)
        }
    );
    advance(Duration::from_millis(40)).await;
    assert_eq!(
        l.check("k", rate).await.unwrap(),
        Decision::Limited {
            retry_after: Duration::from_millis(60)
        }
    );
    advance(Duration::from_millis(60)).await;
    assert_eq!(
        l.check("k", rate).await.unwrap(),
        Decision::Allowed { remaining: 0 }
    );
    assert!(!allowed(&l, "k", rate).await, "exactly one per interval");
}

#[tokio::test(start_paused = true)]
async fn retry_after_rounds_up_to_whole_milliseconds() {
    let l = MemoryRateLimiter::new();
    let rate = Rate::new(10.0, 1).unwrap();
    assert!(allowed(&l, "k", rate).await);
    advance(Duration::from_micros(99_500)).await;
    assert_eq!(
        l.check("k", rate).await.unwrap(),
        Decision::Limited { retry_after: MS }
    );
}

/// A call every millisecond from 0 through 10 s inclusive (10 001 calls):
/// the burst of 5 goes at 0..=4 ms, which leaves the TAT at 500 ms, so the
/// next is allowed at 100 ms and then at every 100 ms up to 10 000 ms: 100
/// more.
#[tokio::test(start_paused = true)]
async fn ten_seconds_of_steady_pressure() {
    let l = MemoryRateLimiter::new();
    let rate = ten_per_second_burst_five();
    let mut allowed_at = Vec::new();
    for ms in 0..=10_000u64 {
        if allowed(&l, "k", rate).await {
            allowed_at.push(ms);
        }
        advance(MS).await;
    }
    assert_eq!(allowed_at.len(), 5 + 100);
    assert_eq!(allowed_at[..6], [0, 1, 2, 3, 4, 100]);
    let steady: Vec<u64> = (1..=100).map(|i| i * 100).collect();
    assert_eq!(allowed_at[5..], steady[..]);
}

#[tokio::test(start_paused = true)]
async fn keys_are_independent() {
    let l = MemoryRateLimiter::new();
    let rate = ten_per_second_burst_five();
    let mut a = 0;
    for _ in 0..20 {
        a += usize::from(allowed(&l, "a", rate).await);
    }
    let mut b = 0;
    for _ in 0..20 {
        b += usize::from(allowed(&l, "b", rate).await);
    }
    assert_eq!((a, b), (5, 5));
}

#[tokio::test(start_paused = true)]
async fn sweep_drops_idle_keys_only() {
    let l = MemoryRateLimiter::new();
    let rate = ten_per_second_burst_five();
    assert!(allowed(&l, "idle", rate).await); // TAT 100 ms
    for _ in 0..5 {
        assert!(allowed(&l, "busy", rate).await); // TAT 500 ms
    }
    assert_eq!(l.sweep().await, 0, "both TATs are ahead");
    advance(Duration::from_millis(100)).await;
    assert_eq!(l.sweep().await, 1, "a TAT equal to now is a fresh key");
    assert_eq!(l.len(), 1);
    // A fresh key would get 5; busy earned back one in 100 ms.
    let mut busy = 0;
    for _ in 0..5 {
        busy += usize::from(allowed(&l, "busy", rate).await);
    }
    assert_eq!(busy, 1, "busy kept its state");
    assert!(allowed(&l, "idle", rate).await); // TAT 200 ms; busy's 600 ms
    advance(Duration::from_millis(400)).await;
    assert_eq!(l.sweep().await, 1);
    assert_eq!(l.len(), 1);
    advance(Duration::from_millis(100)).await;
    assert_eq!(l.sweep().await, 1);
    assert!(l.is_empty());
}

#[tokio::test(start_paused = true)]
async fn interleaved_tasks_get_exactly_the_burst() {
    let l = Arc::new(MemoryRateLimiter::new());
    let rate = ten_per_second_burst_five();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let l = l.clone();
            tokio::spawn(async move {
                let mut n = 0;
                for _ in 0..10 {
                    n += usize::from(allowed(&l, "k", rate).await);
                    tokio::task::yield_now().await;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 5);
}

/// Real threads racing on one key. The rate earns a token back once an
/// hour, so only the burst can be allowed however slow the machine is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_threads_get_exactly_the_burst() {
    let l: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new());
    let rate = Rate::new(1.0 / 3600.0, 7).unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let l = l.clone();
            tokio::spawn(async move {
                let mut n = 0;
                for _ in 0..1000 {
                    let d = l.check("k", rate).await.unwrap();
                    n += usize::from(matches!(d, Decision::Allowed { .. }));
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 7);
}

#[test]
fn step_formulas() {
    let rate = ten_per_second_burst_five();
    let ms = |n: u128| n * NANOS_PER_MS;
    // A stored TAT in the past is a fresh key.
    assert_eq!(
        step(Some(ms(1)), ms(50), rate),
        (Some(ms(150)), Decision::Allowed { remaining: 4 })
    );
    assert_eq!(
        step(Some(ms(450)), ms(50), rate),
        (Some(ms(550)), Decision::Allowed { remaining: 0 })
    );
    assert_eq!(
        step(Some(ms(451)), ms(50), rate),
        (
            None,
            Decision::Limited {
                retry_after: Duration::from_millis(1)
            }
        )
    );
    // A hand-built rate that earns nothing back: the burst, then never.
    let never = Rate {
        per_second: 0.0,
        burst: 0,
    };
    let (tat, d) = step(None, 0, never);
    assert_eq!(d, Decision::Allowed { remaining: 0 });
    assert!(matches!(
        step(tat, ms(1), never).1,
        Decision::Limited { .. }
    ));
}
