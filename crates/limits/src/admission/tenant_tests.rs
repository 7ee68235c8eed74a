use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::*;

pub(super) const LONG: Duration = Duration::from_secs(3600);

pub(super) type Granted = (&'static str, &'static str, Permit);

pub(super) fn ticket(
    tenant: &'static str,
    weight: u32,
    cap: Option<usize>,
    key: &'static str,
) -> Ticket<'static> {
    Ticket {
        tenant,
        weight,
        max_running: cap,
        max_queued: None,
        key,
    }
}

/// A waiter that hands its permit to the test, which decides when to drop
/// it.
pub(super) fn spawn_admit(
    a: &Admission,
    t: Ticket<'static>,
    deadline: Duration,
    tx: &mpsc::UnboundedSender<Granted>,
) -> JoinHandle<Result<(), Rejected>> {
    let (a, tx) = (a.clone(), tx.clone());
    tokio::spawn(async move {
        let p = a.admit(t, deadline).await?;
        let _ = tx.send((t.tenant, t.key, p));
        Ok(())
    })
}

/// Admitted without waiting at all.
pub(super) async fn at_once(a: &Admission, t: Ticket<'_>) -> Permit {
    tokio::time::timeout(Duration::ZERO, a.admit(t, LONG))
        .await
        .expect("admitted at once")
        .expect("admitted")
}

pub(super) async fn until_queued(a: &Admission, n: usize) {
    while a.stats().queued < n {
        tokio::task::yield_now().await;
    }
}

/// Every waiter finishes, nothing is held and no tenant entry is left.
pub(super) async fn drained(
    a: &Admission,
    rx: mpsc::UnboundedReceiver<Granted>,
    tasks: Vec<JoinHandle<Result<(), Rejected>>>,
) {
    drop(rx);
    for t in tasks {
        let _ = t.await;
    }
    assert_eq!(a.stats().in_flight, 0);
    assert_eq!(a.stats().queued, 0);
    assert_eq!(a.shared.state.lock().tenant_entries(), 0);
}

/// Release one slot at a time, `n` times, holding `max_in_flight` permits.
async fn grant_one_at_a_time(
    held: &mut VecDeque<Permit>,
    rx: &mut mpsc::UnboundedReceiver<Granted>,
    n: usize,
) -> Vec<(&'static str, &'static str)> {
    let mut order = Vec::new();
    for _ in 0..n {
        drop(held.pop_front());
        let (tenant, key, p) = rx.recv().await.unwrap();
        order.push((tenant, key));
        held.push_back(p);
    }
    order
}

#[tokio::test(start_paused = true)]
async fn tenant_weights_set_the_share() {
    let a = Admission::new(4, 1000);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut held = VecDeque::new();
    for _ in 0..4 {
        held.push_back(at_once(&a, ticket("fill", 1, None, "f")).await);
    }
    let mut tasks = Vec::new();
    for i in 0..450 {
        let key = if i % 2 == 0 { "even" } else { "odd" };
        tasks.push(spawn_admit(&a, ticket("A", 3, None, key), LONG, &tx));
        tasks.push(spawn_admit(&a, ticket("B", 1, None, key), LONG, &tx));
    }
    until_queued(&a, 900).await;
    let order = grant_one_at_a_time(&mut held, &mut rx, 400).await;
    let a_count = order.iter().filter(|(t, _)| *t == "A").count();
    assert_eq!((a_count, order.len() - a_count), (300, 100));
    for round in order.chunks(4) {
        let tenants: Vec<_> = round.iter().map(|(t, _)| *t).collect();
        assert_eq!(tenants, ["A", "A", "A", "B"]);
    }
    assert_eq!(a.stats().in_flight, 4);
    assert_eq!(a.tenant_stats("A").queued + a.tenant_stats("B").queued, 500);
    drop(held);
    drained(&a, rx, tasks).await;
}

#[tokio::test(start_paused = true)]
async fn a_tenant_at_its_cap_waits_while_others_run() {
    let a = Admission::new(10, 100);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let capped = |key| ticket("c", 1, Some(2), key);
    let tasks: Vec<_> = (0..6)
        .map(|_| spawn_admit(&a, capped("k"), LONG, &tx))
        .collect();
    until_queued(&a, 4).await;
    let mut c_held = VecDeque::new();
    for _ in 0..2 {
        c_held.push_back(rx.recv().await.unwrap().2);
    }
    assert_eq!(
        a.tenant_stats("c"),
        TenantStats {
            running: 2,
            queued: 4
        }
    );
    // Global slots are free: other tenants go at once past c's waiters.
    let mut others: Vec<Permit> = Vec::new();
    for _ in 0..8 {
        others.push(at_once(&a, ticket("o", 1, None, "o")).await);
    }
    assert_eq!(a.stats().in_flight, 10);
    // A freed global slot does not let c past its cap.
    drop(others.pop());
    assert_eq!(a.stats().in_flight, 9);
    assert_eq!(
        a.tenant_stats("c"),
        TenantStats {
            running: 2,
            queued: 4
        }
    );
    others.push(at_once(&a, ticket("o", 1, None, "o")).await);
    // Each of c's permits that drops lets exactly one of its waiters in.
    for queued in (0..4).rev() {
        drop(c_held.pop_front());
        c_held.push_back(rx.recv().await.unwrap().2);
        assert_eq!(a.tenant_stats("c"), TenantStats { running: 2, queued });
        assert_eq!(a.stats().in_flight, 10);
    }
    drop((c_held, others));
    drained(&a, rx, tasks).await;
}

#[tokio::test(start_paused = true)]
async fn a_raised_cap_lets_the_waiters_in_in_order() {
    let a = Admission::new(10, 100);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let first = at_once(&a, ticket("c", 1, Some(1), "k")).await;
    let tasks = vec![spawn_admit(&a, ticket("c", 1, Some(1), "old"), LONG, &tx)];
    until_queued(&a, 1).await;
    let raised = at_once(&a, ticket("c", 1, Some(3), "new")).await;
    let (_, key, old) = rx.recv().await.unwrap();
    assert_eq!(key, "old");
    assert_eq!(
        a.tenant_stats("c"),
        TenantStats {
            running: 3,
            queued: 0
        }
    );
    drop((first, raised, old));
    drained(&a, rx, tasks).await;
}

#[tokio::test(start_paused = true)]
async fn keys_within_a_tenant_take_turns() {
    let a = Admission::new(1, 1000);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut held = VecDeque::from([at_once(&a, ticket("fill", 1, None, "f")).await]);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        tasks.push(spawn_admit(&a, ticket("t", 2, Some(5), "k1"), LONG, &tx));
    }
    for _ in 0..5 {
        tasks.push(spawn_admit(&a, ticket("t", 2, Some(5), "k2"), LONG, &tx));
    }
    until_queued(&a, 55).await;
    let order = grant_one_at_a_time(&mut held, &mut rx, 55).await;
    let k2_at: Vec<usize> = (0..order.len()).filter(|&i| order[i].1 == "k2").collect();
    assert_eq!(k2_at, [1, 3, 5, 7, 9]);
    drop(held);
    drained(&a, rx, tasks).await;
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_refuses_at_once_even_for_a_capped_tenant() {
    let a = Admission::new(10, 2);
    let (tx, rx) = mpsc::unbounded_channel();
    let running = at_once(&a, ticket("c", 1, Some(1), "k")).await;
    let tasks: Vec<_> = (0..2)
        .map(|_| spawn_admit(&a, ticket("c", 1, Some(1), "k"), LONG, &tx))
        .collect();
    until_queued(&a, 2).await;
    // c is at its cap, so it would queue: refused although slots are free.
    let refused =
        tokio::time::timeout(Duration::ZERO, a.admit(ticket("c", 1, Some(1), "k2"), LONG));
    assert_eq!(
        refused.await.expect("at once").unwrap_err(),
        Rejected::QueueFull
    );
    assert_eq!(a.stats().in_flight, 1, "global slots were free all along");
    // Another tenant needs no queue place.
    let other = at_once(&a, ticket("d", 1, None, "d")).await;
    drop(other);
    drop(running);
    drained(&a, rx, tasks).await;
}

#[tokio::test(start_paused = true)]
async fn a_tenant_cannot_take_more_than_its_share_of_the_queue() {
    let a = Admission::new(1, 100);
    let (tx, rx) = mpsc::unbounded_channel();
    let share = |tenant: &'static str| Ticket {
        max_queued: Some(3),
        ..ticket(tenant, 1, None, tenant)
    };
    let running = at_once(&a, share("flood")).await;
    let tasks: Vec<_> = (0..3)
        .map(|_| spawn_admit(&a, share("flood"), LONG, &tx))
        .collect();
    until_queued(&a, 3).await;
    // The flooding tenant's fourth waiter is refused; the shared queue
    // still has room for another tenant.
    let refused = tokio::time::timeout(Duration::ZERO, a.admit(share("flood"), LONG));
    assert_eq!(
        refused.await.expect("at once").unwrap_err(),
        Rejected::OverShare
    );
    assert_eq!(a.check(share("flood")).unwrap_err(), Rejected::OverShare);
    assert!(a.check(share("quiet")).is_ok());
    let quiet = spawn_admit(&a, share("quiet"), LONG, &tx);
    until_queued(&a, 4).await;
    drop(running);
    let mut tasks = tasks;
    tasks.push(quiet);
    drop(tx);
    let mut rx = rx;
    let mut granted = Vec::new();
    while let Some((tenant, _, permit)) = rx.recv().await {
        granted.push(tenant);
        drop(permit);
    }
    for t in tasks {
        t.await.expect("waiter").expect("admitted");
    }
    assert_eq!(granted.len(), 4);
    assert!(granted.contains(&"quiet"));
    assert_eq!(a.stats().queued, 0);
}

/// The check at arrival refuses exactly what `admit` would refuse at once,
/// and takes nothing.
#[tokio::test(start_paused = true)]
async fn the_arrival_check_refuses_what_admit_would() {
    let a = Admission::new(1, 1);
    assert!(a.check(ticket("t", 1, None, "k")).is_ok());
    let busy = at_once(&a, ticket("t", 1, None, "k")).await;
    // A slot is taken but the queue has room: it would wait, not be refused.
    assert!(a.check(ticket("u", 1, None, "k")).is_ok());
    let (tx, _rx) = mpsc::unbounded_channel();
    let waiter = spawn_admit(&a, ticket("u", 1, None, "k"), LONG, &tx);
    until_queued(&a, 1).await;
    assert_eq!(
        a.check(ticket("v", 1, None, "k")).unwrap_err(),
        Rejected::QueueFull
    );
    assert_eq!(a.stats().queued, 1);
    assert_eq!(a.stats().in_flight, 1);
    waiter.abort();
    drop(busy);
}
