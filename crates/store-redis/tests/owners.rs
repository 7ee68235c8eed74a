//! `RedisSessionOwners` on a real redis-server: a claim is a
//! compare-and-set (of racing nodes exactly one wins), the owner renews and
//! releases, and a lapsed or released lease is taken over with the former
//! owner named.

use crate::support;

use std::time::Duration;

use support::{RedisProcess, connect_prefix, unique_prefix};
use switchboard_store::{Claim, SessionOwners};
use switchboard_store_redis::RedisSessionOwners;

const LEASE: Duration = Duration::from_secs(60);

async fn owners(server: &RedisProcess) -> RedisSessionOwners {
    let redis = connect_prefix(server, &unique_prefix("owners")).await;
    RedisSessionOwners::new(redis, Duration::from_secs(3600))
}

#[tokio::test]
async fn one_owner_at_a_time_renewed_released_and_taken_over() {
    let server = RedisProcess::start();
    let o = owners(&server).await;
    assert_eq!(
        o.claim("s", "a", "http://a/mcp", LEASE).await.unwrap(),
        Claim::New
    );
    assert_eq!(
        o.claim("s", "a", "http://a/mcp", LEASE).await.unwrap(),
        Claim::Mine
    );
    assert_eq!(
        o.claim("s", "b", "http://b/mcp", LEASE).await.unwrap(),
        Claim::Other {
            node: "a".into(),
            url: "http://a/mcp".into()
        }
    );
    let both = ["s".to_owned(), "t".to_owned()];
    assert_eq!(
        o.renew(&both, "a", LEASE).await.unwrap(),
        ["t".to_owned()],
        "a owns s, not t"
    );

    o.release(&["s".to_owned()], "b").await.unwrap(); // not b's: no effect
    assert!(matches!(
        o.claim("s", "b", "u", LEASE).await.unwrap(),
        Claim::Other { .. }
    ));
    o.release(&["s".to_owned()], "a").await.unwrap();
    assert_eq!(
        o.claim("s", "b", "http://b/mcp", LEASE).await.unwrap(),
        Claim::TookOver { from: "a".into() }
    );
    assert_eq!(
        o.renew(&both[..1], "a", LEASE).await.unwrap(),
        ["s".to_owned()]
    );
    assert!(o.renew(&both[..1], "b", LEASE).await.unwrap().is_empty());
}

#[tokio::test]
async fn racing_claims_have_one_winner_and_a_lapsed_lease_moves() {
    let server = RedisProcess::start();
    let o = owners(&server).await;
    let claims = (0..8).map(|i| {
        let o = o.clone();
        tokio::spawn(async move { o.claim("r", &format!("n{i}"), "u", LEASE).await.unwrap() })
    });
    let mut won = 0;
    for c in claims {
        match c.await.unwrap() {
            Claim::New => won += 1,
            Claim::Other { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 1);

    // A short lease, never renewed, lapses on Redis's clock.
    let short = Duration::from_millis(300);
    assert_eq!(o.claim("x", "dead", "u", short).await.unwrap(), Claim::New);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match o.claim("x", "live", "u", LEASE).await.unwrap() {
            Claim::TookOver { from } => {
                assert_eq!(from, "dead");
                break;
            }
            Claim::Other { .. } if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("{other:?}"),
        }
    }
}
