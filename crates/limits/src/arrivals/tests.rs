use super::*;

#[test]
fn under_the_cap_everyone_enters_and_leaving_counts_out() {
    let a = Arrivals::new();
    let held: Vec<_> = (0..4).map(|_| a.enter("t", 1, 4).unwrap()).collect();
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
    let _held: Vec<_> = (0..4).map(|_| a.enter("t", 1, 4).unwrap()).collect();
    assert_eq!(a.enter("t", 1, 4).unwrap_err(), Rejected::Crowded);
    assert_eq!(a.present(), 4, "a refusal is not counted in");
}

#[test]
fn at_the_cap_a_light_tenant_still_enters_up_to_its_share() {
    let a = Arrivals::new();
    let _flood: Vec<_> = (0..8).map(|_| a.enter("flood", 1, 8).unwrap()).collect();
    // Two tenants present: each one's share is 4 of 8.
    let light: Vec<_> = (0..4).map(|_| a.enter("light", 1, 8).unwrap()).collect();
    assert_eq!(a.enter("light", 1, 8).unwrap_err(), Rejected::Crowded);
    assert_eq!(a.enter("flood", 1, 8).unwrap_err(), Rejected::Crowded);
    drop(light);
    assert_eq!(a.present(), 8);
}

#[test]
fn a_heavier_tenant_has_a_larger_share() {
    let a = Arrivals::new();
    let _flood: Vec<_> = (0..12).map(|_| a.enter("flood", 1, 12).unwrap()).collect();
    // Weights 1 and 3: the heavy tenant's share is 9 of 12.
    let heavy: Vec<_> = (0..9).map(|_| a.enter("heavy", 3, 12).unwrap()).collect();
    assert_eq!(heavy.len(), 9);
    assert_eq!(a.enter("heavy", 3, 12).unwrap_err(), Rejected::Crowded);
}

#[test]
fn nothing_enters_at_twice_the_cap() {
    let a = Arrivals::new();
    let _held: Vec<_> = (0..8)
        .map(|i| a.enter(&format!("t{i}"), 1, 4).unwrap())
        .collect();
    assert_eq!(a.present(), 8);
    assert_eq!(a.enter("new", 1, 4).unwrap_err(), Rejected::Crowded);
}

#[test]
fn no_cap_refuses_nothing() {
    let a = Arrivals::new();
    let held: Vec<_> = (0..1000).map(|_| a.enter("t", 1, 0).unwrap()).collect();
    assert_eq!(a.present(), held.len());
}

#[test]
fn the_latest_weight_of_a_tenant_counts_and_is_given_back() {
    let a = Arrivals::new();
    let one = a.enter("t", 1, 0).unwrap();
    let two = a.enter("t", 5, 0).unwrap();
    assert_eq!(a.shared.lock().weights, 5);
    drop(one);
    drop(two);
    assert_eq!(a.shared.lock().weights, 0);
}
