use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::*;

const LONG: Duration = Duration::from_secs(3600);

#[tokio::test(start_paused = true)]
async fn cap_then_queue_then_full() {
    let a = Admission::new(2, 1);
    let p1 = a.acquire("s", 1, LONG).await.unwrap();
    let _p2 = a.acquire("s", 1, LONG).await.unwrap();
    let waiter = tokio::spawn({
        let a = a.clone();
        async move { a.acquire("t", 1, LONG).await.map(|_| ()) }
    });
    tokio::task::yield_now().await;
    assert_eq!(a.stats().queued, 1);
    assert_eq!(
        a.acquire("u", 1, LONG).await.unwrap_err(),
        Rejected::QueueFull
    );
    drop(p1);
    waiter.await.unwrap().unwrap();
    assert_eq!(a.stats().queued, 0);
}

#[tokio::test(start_paused = true)]
async fn deadline_passes_and_the_waiter_leaves_the_queue() {
    let a = Admission::new(1, 10);
    let _busy = a.acquire("s", 1, LONG).await.unwrap();
    let r = a.acquire("t", 1, Duration::from_secs(2)).await;
    assert_eq!(r.unwrap_err(), Rejected::Timeout);
    assert_eq!(
        a.stats().queued,
        0,
        "a timed-out waiter does not hold a queue place"
    );
}

/// One session floods, another asks once: the quiet one is served after at
/// most one of the flooder's waiting requests, not after all of them.
#[tokio::test(start_paused = true)]
async fn a_flooding_key_does_not_starve_a_quiet_one() {
    let a = Admission::new(1, 1000);
    let order = Arc::new(Mutex::new(Vec::new()));
    let busy = a.acquire("init", 1, LONG).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        tasks.push(spawn_waiter(&a, "flood", format!("flood-{i}"), &order));
        tokio::task::yield_now().await;
    }
    tasks.push(spawn_waiter(&a, "quiet", "quiet".into(), &order));
    tokio::task::yield_now().await;
    drop(busy);
    for t in tasks {
        t.await.unwrap();
    }
    let order = order.lock().await;
    let quiet_at = order.iter().position(|s| s == "quiet").unwrap();
    assert!(
        quiet_at <= 1,
        "quiet served at position {quiet_at} of {}",
        order.len()
    );
    assert_eq!(order.len(), 51);
}

/// Weights 3:1 with both saturating: admissions come in that ratio.
#[tokio::test(start_paused = true)]
async fn weights_set_the_share() {
    let a = Admission::new(1, 1000);
    let order = Arc::new(Mutex::new(Vec::new()));
    let busy = a.acquire("init", 1, LONG).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        tasks.push(spawn_weighted(&a, "heavy", 3, format!("h{i}"), &order));
        tasks.push(spawn_weighted(&a, "light", 1, format!("l{i}"), &order));
        tokio::task::yield_now().await;
    }
    drop(busy);
    for t in tasks {
        t.await.unwrap();
    }
    let order = order.lock().await;
    let first_40: Vec<&String> = order.iter().take(40).collect();
    let heavy = first_40.iter().filter(|s| s.starts_with('h')).count();
    assert_eq!(heavy, 30, "3:1 while both wait: {first_40:?}");
}

fn spawn_waiter(
    a: &Admission,
    key: &'static str,
    name: String,
    order: &Arc<Mutex<Vec<String>>>,
) -> tokio::task::JoinHandle<()> {
    spawn_weighted(a, key, 1, name, order)
}

fn spawn_weighted(
    a: &Admission,
    key: &'static str,
    weight: u32,
    name: String,
    order: &Arc<Mutex<Vec<String>>>,
) -> tokio::task::JoinHandle<()> {
    let (a, order) = (a.clone(), order.clone());
    tokio::spawn(async move {
        let _p = a.acquire(key, weight, LONG).await.unwrap();
        order.lock().await.push(name);
        // Hold the slot for a moment so every waiter is queued first.
        tokio::time::sleep(Duration::from_millis(1)).await;
    })
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_waiter_leaves_the_queue() {
    let a = Admission::new(1, 1);
    let busy = a.acquire("s", 1, LONG).await.unwrap();
    let waiter = tokio::spawn({
        let a = a.clone();
        async move { a.acquire("t", 1, LONG).await.map(|_| ()) }
    });
    tokio::task::yield_now().await;
    assert_eq!(a.stats().queued, 1);
    waiter.abort();
    let _ = waiter.await;
    assert_eq!(a.stats().queued, 0, "the queue place is free again");
    drop(busy);
    assert_eq!(a.stats().in_flight, 0, "no slot leaked");
    let _again = a.acquire("u", 1, LONG).await.unwrap();
}
