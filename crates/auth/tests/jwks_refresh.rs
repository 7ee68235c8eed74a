//! The JWKS cache against a real HTTP server: key rotation, the refetch
//! rate limit on unknown kids, the TTL, and the server being down.
//!
//! These use real time (intervals of one second): tokio's paused clock
//! would auto-advance past the HTTP client's timeout while waiting for I/O.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{claims, served, served_with, url_config};
use switchboard_auth::testing::{JwksServer, TestKeys};
use switchboard_auth::{Claims, JwtError, JwtVerifier};

fn unknown_key(result: Result<Claims, JwtError>, kid: &str) {
    match result {
        Err(JwtError::UnknownKey(k)) if k == kid => {}
        other => panic!("expected UnknownKey({kid}), got {other:?}"),
    }
}

#[tokio::test]
async fn rotation_new_kid_accepted_after_one_refetch() {
    let (keys, server, v) = served(&["rsa-1"]).await;
    v.verify(&keys.sign("rsa-1", &claims())).await.unwrap();
    assert_eq!(server.fetches(), 1);

    server.set(keys.jwks_json(&["rsa-1", "rsa-2"]));
    v.verify(&keys.sign("rsa-2", &claims())).await.unwrap();
    assert_eq!(server.fetches(), 2, "one refetch for the new kid");
    v.verify(&keys.sign("rsa-2", &claims())).await.unwrap();
    v.verify(&keys.sign("rsa-1", &claims())).await.unwrap();
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_rate_limited() {
    let (keys, server, v) = served(&["rsa-1"]).await;
    v.verify(&keys.sign("rsa-1", &claims())).await.unwrap();
    assert_eq!(server.fetches(), 1);
    // rsa-2 is a real key, but not in the served set.
    unknown_key(v.verify(&keys.sign("rsa-2", &claims())).await, "rsa-2");
    assert_eq!(server.fetches(), 2, "refetched once on the unknown kid");
    unknown_key(v.verify(&keys.sign("rsa-2", &claims())).await, "rsa-2");
    let other = serde_json::json!({"alg": "ES256", "kid": "ec-9"});
    unknown_key(
        v.verify(&keys.sign_with_header("ec-1", &other, &claims()))
            .await,
        "ec-9",
    );
    assert_eq!(
        server.fetches(),
        2,
        "no refetch within refresh_min_interval_secs"
    );
    // Even once the key is published, it waits for the interval.
    server.set(keys.jwks_json(&["rsa-1", "rsa-2"]));
    unknown_key(v.verify(&keys.sign("rsa-2", &claims())).await, "rsa-2");
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn refetch_allowed_again_after_the_interval() {
    let (keys, server, v) = served_with(&["rsa-1"], |c| c.refresh_min_interval_secs = 1).await;
    v.verify(&keys.sign("rsa-1", &claims())).await.unwrap();
    unknown_key(v.verify(&keys.sign("ec-1", &claims())).await, "ec-1");
    assert_eq!(server.fetches(), 2);
    server.set(keys.jwks_json(&["rsa-1", "ec-1"]));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    v.verify(&keys.sign("ec-1", &claims())).await.unwrap();
    assert_eq!(server.fetches(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_share_one_fetch() {
    let (keys, server, v) = served(&["rsa-1", "ec-1"]).await;
    let v = Arc::new(v);
    // First use: eight concurrent verifications, one fetch.
    let results = verify_concurrently(&v, &keys.sign("ec-1", &claims()), 8).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(server.fetches(), 1);
    // Eight concurrent unknown kids: one refetch.
    let results = verify_concurrently(&v, &keys.sign("rsa-2", &claims()), 8).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(JwtError::UnknownKey(_)))),
        "{results:?}"
    );
    assert_eq!(server.fetches(), 2);
}

async fn verify_concurrently(
    v: &Arc<JwtVerifier>,
    token: &str,
    n: usize,
) -> Vec<Result<Claims, JwtError>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (v, token) = (v.clone(), token.to_owned());
        set.spawn(async move { v.verify(&token).await });
    }
    set.join_all().await
}

#[tokio::test]
async fn removed_kid_rejected_after_ttl_refetch() {
    let (keys, server, v) = served_with(&["rsa-1", "rsa-2"], |c| {
        c.cache_ttl_secs = 1;
        c.refresh_min_interval_secs = 1;
    })
    .await;
    v.verify(&keys.sign("rsa-1", &claims())).await.unwrap();
    server.set(keys.jwks_json(&["rsa-2"]));
    v.verify(&keys.sign("rsa-1", &claims())).await.unwrap();
    assert_eq!(server.fetches(), 1, "cached until the TTL");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    unknown_key(v.verify(&keys.sign("rsa-1", &claims())).await, "rsa-1");
    assert_eq!(
        server.fetches(),
        2,
        "the TTL refetch, no second fetch for the miss"
    );
    v.verify(&keys.sign("rsa-2", &claims())).await.unwrap();
}

#[tokio::test]
async fn removed_kid_rejected_after_kid_miss_refetch() {
    let (keys, server, v) = served(&["rsa-1"]).await;
    v.verify(&keys.sign("rsa-1", &claims())).await.unwrap();
    server.set(keys.jwks_json(&["rsa-2"]));
    v.verify(&keys.sign("rsa-2", &claims())).await.unwrap();
    assert_eq!(server.fetches(), 2);
    unknown_key(v.verify(&keys.sign("rsa-1", &claims())).await, "rsa-1");
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn stale_keys_kept_when_the_refetch_fails() {
    let (keys, server, v) = served_with(&["ed-1"], |c| c.cache_ttl_secs = 1).await;
    v.verify(&keys.sign("ed-1", &claims())).await.unwrap();
    server.set_status(503);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    v.verify(&keys.sign("ed-1", &claims())).await.unwrap();
    assert_eq!(server.fetches(), 2);
    v.verify(&keys.sign("ed-1", &claims())).await.unwrap();
    assert_eq!(server.fetches(), 2, "failed refetches are rate-limited too");
}

fn assert_unavailable(result: Result<Claims, JwtError>) {
    match result {
        Err(e @ JwtError::KeysUnavailable(_)) => {
            assert!(e.is_unavailable());
            assert_eq!(e.description(), "signing keys unavailable");
        }
        other => panic!("expected KeysUnavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn jwks_url_down_is_keys_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    let v = JwtVerifier::new(url_config(&url)).unwrap();
    let token = TestKeys::load().sign("rsa-1", &claims());
    assert_unavailable(v.verify(&token).await);
    assert_unavailable(v.verify(&token).await);
}

#[tokio::test]
async fn jwks_error_status_and_bad_bodies_are_keys_unavailable() {
    let keys = TestKeys::load();
    let token = keys.sign("rsa-1", &claims());
    let server = JwksServer::start(keys.jwks_json(&["rsa-1"])).await;
    server.set_status(500);
    let v = JwtVerifier::new(url_config(&server.url())).unwrap();
    assert_unavailable(v.verify(&token).await);
    assert_unavailable(v.verify(&token).await);
    assert_eq!(
        server.fetches(),
        1,
        "no retry within refresh_min_interval_secs"
    );

    for body in ["<html>", "{\"no\": \"keys\"}", &" ".repeat(1024 * 1024 + 1)] {
        let server = JwksServer::start(body).await;
        let v = JwtVerifier::new(url_config(&server.url())).unwrap();
        assert_unavailable(v.verify(&token).await);
    }
}

#[tokio::test]
async fn jwks_fetch_times_out() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut config = url_config(&url);
    config.timeout_ms = 200;
    let v = JwtVerifier::new(config).unwrap();
    let started = std::time::Instant::now();
    assert_unavailable(v.verify(&TestKeys::load().sign("rsa-1", &claims())).await);
    assert!(started.elapsed() < Duration::from_secs(2));
    hold.abort();
}
