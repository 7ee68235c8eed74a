//! Timeouts, abandoned waiters and races between a grant and a waiter
//! giving up: none of them leaks a slot, a queue place or a tenant entry.

use std::time::Duration;

use tokio::sync::mpsc;

use super::tenant_tests::{LONG, at_once, drained, spawn_admit, ticket, until_queued};
use super::*;

#[tokio::test(start_paused = true)]
async fn timed_out_and_abandoned_waiters_leave_nothing_behind() {
    let a = Admission::new(1, 100);
    let (tx, rx) = mpsc::unbounded_channel();
    let busy = at_once(&a, ticket("fill", 1, None, "f")).await;
    let short: Vec<_> = (0..10)
        .map(|_| {
            spawn_admit(
                &a,
                ticket("t", 1, Some(1), "k"),
                Duration::from_secs(1),
                &tx,
            )
        })
        .collect();
    let long: Vec<_> = (0..10)
        .map(|_| spawn_admit(&a, ticket("u", 2, None, "k"), LONG, &tx))
        .collect();
    until_queued(&a, 20).await;
    for t in &long[..5] {
        t.abort();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut timeouts = 0;
    for t in short {
        timeouts += usize::from(t.await.unwrap() == Err(Rejected::Timeout));
    }
    assert_eq!(timeouts, 10);
    assert_eq!(a.tenant_stats("t"), TenantStats::default());
    assert_eq!(
        a.tenant_stats("u"),
        TenantStats {
            running: 0,
            queued: 5
        }
    );
    drop(busy);
    drained(&a, rx, long).await;
}

/// A waiter granted a slot but dropped before it could take it gives the
/// slot back.
#[tokio::test(start_paused = true)]
async fn a_waiter_dropped_after_its_grant_gives_the_slot_back() {
    let a = Admission::new(1, 10);
    let (tx, rx) = mpsc::unbounded_channel();
    let busy = at_once(&a, ticket("fill", 1, None, "f")).await;
    let waiter = spawn_admit(&a, ticket("t", 1, Some(1), "k"), LONG, &tx);
    until_queued(&a, 1).await;
    drop(busy);
    assert_eq!(
        a.tenant_stats("t"),
        TenantStats {
            running: 1,
            queued: 0
        }
    );
    waiter.abort();
    drained(&a, rx, vec![waiter]).await;
}

/// The grant and the deadline land in the same instant, with either timer
/// registered first: whatever the waiter gets, no slot leaks.
#[tokio::test(start_paused = true)]
async fn a_grant_racing_the_deadline_leaks_nothing() {
    for release_first in [false, true] {
        let a = Admission::new(1, 10);
        let (tx, rx) = mpsc::unbounded_channel();
        let busy = at_once(&a, ticket("fill", 1, None, "f")).await;
        let release = || {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                drop(busy);
            })
        };
        let waiter = || {
            spawn_admit(
                &a,
                ticket("t", 1, Some(1), "k"),
                Duration::from_secs(1),
                &tx,
            )
        };
        let (release, waiter) = if release_first {
            let r = release();
            tokio::task::yield_now().await;
            (r, waiter())
        } else {
            let w = waiter();
            until_queued(&a, 1).await;
            (release(), w)
        };
        release.await.unwrap();
        drained(&a, rx, vec![waiter]).await;
    }
}

/// Real threads: a release lands while a waiter with no time to wait is
/// queueing and giving up. Whatever each waiter gets, no slot leaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_racing_give_ups_on_threads_leak_nothing() {
    let a = Admission::new(1, 10);
    for _ in 0..2000 {
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let busy = at_once(&a, ticket("fill", 1, None, "f")).await;
        let release = tokio::spawn({
            let start = start.clone();
            async move {
                start.wait().await;
                drop(busy)
            }
        });
        let b = a.clone();
        let waiter = tokio::spawn(async move {
            start.wait().await;
            let t = ticket("t", 1, Some(1), "k");
            b.admit(t, Duration::ZERO).await.map(drop)
        });
        release.await.unwrap();
        let _ = waiter.await.unwrap();
        assert_eq!(a.stats(), Admission::new(1, 10).stats());
        assert_eq!(a.shared.state.lock().tenant_entries(), 0);
    }
}
