use super::*;

/// No slot taken, none waiting.
const FREE: Slots = Slots {
    taken: 0,
    full: false,
    waiting: 0,
};

/// Every one of `BURSTY`'s 4 slots taken, `waiting` more waiting for one.
fn all_taken(waiting: usize) -> Slots {
    Slots {
        taken: 4,
        full: true,
        waiting,
    }
}

/// A cap of `n` with no queue (so no standing rule).
fn cap(n: usize) -> Bounds {
    Bounds {
        running: n,
        queue: 0,
    }
}

#[test]
fn under_the_cap_everyone_enters_and_leaving_counts_out() {
    let a = Arrivals::new();
    let held: Vec<_> = (0..4)
        .map(|_| a.enter("t", 1, cap(4), FREE).unwrap())
        .collect();
    assert_eq!(a.present(), 4);
    assert_eq!(a.tenant("t"), 4);
    drop(held);
    assert_eq!(a.present(), 0);
    assert_eq!(a.tenant("t"), 0);
    assert!(a.shared.lock().tenants.is_empty());
    assert_eq!(a.shared.lock().weights, 0);
}

#[test]
fn at_the_cap_a_tenant_holding_all_of_it_is_refused() {
    let a = Arrivals::new();
    let _held: Vec<_> = (0..4)
        .map(|_| a.enter("t", 1, cap(4), FREE).unwrap())
        .collect();
    assert_eq!(
        a.enter("t", 1, cap(4), FREE).unwrap_err(),
        Rejected::Crowded
    );
    assert_eq!(a.present(), 4, "a refusal is not counted in");
}

#[test]
fn at_the_cap_a_light_tenant_still_enters_up_to_its_share() {
    let a = Arrivals::new();
    let _flood: Vec<_> = (0..8)
        .map(|_| a.enter("flood", 1, cap(8), FREE).unwrap())
        .collect();
    // Two tenants present: each one's share is 4 of 8.
    let light: Vec<_> = (0..4)
        .map(|_| a.enter("light", 1, cap(8), FREE).unwrap())
        .collect();
    assert_eq!(
        a.enter("light", 1, cap(8), FREE).unwrap_err(),
        Rejected::Crowded
    );
    assert_eq!(
        a.enter("flood", 1, cap(8), FREE).unwrap_err(),
        Rejected::Crowded
    );
    drop(light);
    assert_eq!(a.present(), 8);
}

#[test]
fn a_heavier_tenant_has_a_larger_share() {
    let a = Arrivals::new();
    let _flood: Vec<_> = (0..12)
        .map(|_| a.enter("flood", 1, cap(12), FREE).unwrap())
        .collect();
    // Weights 1 and 3: the heavy tenant's share is 9 of 12.
    let heavy: Vec<_> = (0..9)
        .map(|_| a.enter("heavy", 3, cap(12), FREE).unwrap())
        .collect();
    assert_eq!(heavy.len(), 9);
    assert_eq!(
        a.enter("heavy", 3, cap(12), FREE).unwrap_err(),
        Rejected::Crowded
    );
}

#[test]
fn nothing_enters_at_twice_the_cap() {
    let a = Arrivals::new();
    let _held: Vec<_> = (0..8)
        .map(|i| a.enter(&format!("t{i}"), 1, cap(4), FREE).unwrap())
        .collect();
    assert_eq!(a.present(), 8);
    assert_eq!(
        a.enter("new", 1, cap(4), FREE).unwrap_err(),
        Rejected::Crowded
    );
}

#[test]
fn no_cap_refuses_nothing() {
    let a = Arrivals::new();
    let held: Vec<_> = (0..1000)
        .map(|_| a.enter("t", 1, cap(0), FREE).unwrap())
        .collect();
    assert_eq!(a.present(), held.len());
}

#[test]
fn the_latest_weight_of_a_tenant_counts_and_is_given_back() {
    let a = Arrivals::new();
    let one = a.enter("t", 1, cap(0), FREE).unwrap();
    let two = a.enter("t", 5, cap(0), FREE).unwrap();
    assert_eq!(a.shared.lock().weights, 5);
    drop(one);
    drop(two);
    assert_eq!(a.shared.lock().weights, 0);
}

/// Bounds of 4 running and 4 queued.
const BURSTY: Bounds = Bounds {
    running: 4,
    queue: 4,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `n` requests of `tenant` let in at `at`.
fn burst(a: &Arrivals, tenant: &str, n: usize, at: Instant) -> Vec<Arrived> {
    (0..n)
        .map(|_| a.enter_at(tenant, 1, BURSTY, FREE, at).unwrap())
        .collect()
}

/// A queue made to stand: `n` of `tenant` let in at once, and the next
/// refused two intervals later. Returns those let in and when.
fn standing(a: &Arrivals, tenant: &str, n: usize) -> (Vec<Arrived>, Instant) {
    let t0 = Instant::now();
    let held = burst(a, tenant, n, t0);
    let t1 = t0 + ms(200);
    refused(a, tenant, FREE, t1);
    (held, t1)
}

/// Asserts that an arrival of `tenant` at `at` is refused.
#[track_caller]
fn refused(a: &Arrivals, tenant: &str, slots: Slots, at: Instant) {
    let r = a.enter_at(tenant, 1, BURSTY, slots, at);
    assert_eq!(r.unwrap_err(), Rejected::Crowded);
}

#[test]
fn a_burst_uses_the_queue() {
    let a = Arrivals::new();
    let t0 = Instant::now();
    let mut held = burst(&a, "t", 8, t0);
    assert_eq!(
        a.enter_at("t", 1, BURSTY, FREE, t0).unwrap_err(),
        Rejected::Crowded
    );
    // Half an interval later, 6 in hand: the average (2.4) is under the
    // running cap, so the queue is still there.
    held.truncate(6);
    held.push(a.enter_at("t", 1, BURSTY, FREE, t0 + ms(50)).unwrap());
    assert_eq!(a.present(), 7);
}

#[test]
fn a_standing_queue_is_cut_to_the_running_cap() {
    let a = Arrivals::new();
    // Two intervals with 6 in hand: the average (5.2) is above 4.
    let (mut held, t1) = standing(&a, "t", 6);
    held.truncate(4);
    // The running cap alone while the queue stands.
    refused(&a, "t", FREE, t1 + ms(1));
    held.truncate(3);
    held.push(a.enter_at("t", 1, BURSTY, FREE, t1 + ms(2)).unwrap());
    assert_eq!(a.present(), 4);
}

#[test]
fn a_standing_queue_is_given_back_once_nothing_is_refused_for_the_interval() {
    let a = Arrivals::new();
    let (mut held, t1) = standing(&a, "t", 6);
    // Refused again just before the interval ends: still standing.
    let t2 = t1 + STANDING - ms(1);
    refused(&a, "t", FREE, t2);
    // The flood is over (3 in hand, nothing refused for three intervals):
    // the queue is back.
    held.truncate(3);
    let t3 = t2 + ms(300);
    held.extend(burst(&a, "t", 5, t3));
    assert_eq!(a.present(), 8);
    refused(&a, "t", FREE, t3);
}

#[test]
fn while_a_queue_stands_a_light_tenant_still_enters_up_to_its_share() {
    let a = Arrivals::new();
    let (_flood, t1) = standing(&a, "flood", 6);
    // Two tenants present, a cap of 4: the light one's share is 2.
    let light = burst(&a, "light", 2, t1);
    refused(&a, "light", FREE, t1);
    assert_eq!(light.len(), 2);
}

#[test]
fn while_a_queue_stands_a_light_tenant_may_go_past_twice_the_running_cap() {
    let a = Arrivals::new();
    let (_flood, t1) = standing(&a, "flood", 8);
    // 8 in hand, twice the running cap, but under twice the cap with its
    // queue: the light tenant's share (2 of 4) is still its own.
    let light = a.enter_at("light", 1, BURSTY, FREE, t1).unwrap();
    assert_eq!(a.present(), 9);
    drop(light);
}

#[test]
fn without_a_queue_nothing_stands() {
    let a = Arrivals::new();
    let t0 = Instant::now();
    let bounds = Bounds {
        running: 4,
        queue: 0,
    };
    let _held: Vec<_> = (0..4)
        .map(|_| a.enter_at("t", 1, bounds, FREE, t0).unwrap())
        .collect();
    let later = t0 + ms(500);
    let r = a.enter_at("t", 1, bounds, FREE, later);
    assert_eq!(r.unwrap_err(), Rejected::Crowded);
    assert!(a.shared.lock().standing.is_none());
}

#[test]
fn a_queue_waiting_for_taken_slots_is_admissions_and_is_not_cut() {
    let a = Arrivals::new();
    let t0 = Instant::now();
    // Every slot taken, four waiting for one: admission's own queue.
    let slots = all_taken(4);
    let _held: Vec<_> = (0..7)
        .map(|_| a.enter_at("t", 1, BURSTY, slots, t0).unwrap())
        .collect();
    let later = t0 + ms(500);
    let eighth = a.enter_at("t", 1, BURSTY, slots, later).unwrap();
    assert!(a.shared.lock().standing.is_none());
    // Still the cap with its queue.
    refused(&a, "t", slots, later);
    drop(eighth);
}

#[test]
fn while_a_queue_stands_requests_waiting_for_a_slot_are_not_cut() {
    let a = Arrivals::new();
    let (mut held, t1) = standing(&a, "t", 6);
    held.truncate(4);
    refused(&a, "t", FREE, t1 + ms(1));
    // Every slot taken and two waiting for one: the cap is the running cap
    // plus them.
    let slots = all_taken(2);
    held.extend((0..2).map(|_| a.enter_at("t", 1, BURSTY, slots, t1 + ms(2)).unwrap()));
    refused(&a, "t", slots, t1 + ms(2));
}
