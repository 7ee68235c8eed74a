//! An HTTP upstream when things end: calls given up on are cancelled on the
//! server, sessions that end or expire and servers that stop are noticed,
//! and start-up failures say why.

use crate::http_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use http_support::*;
use serde_json::json;
use switchboard_server::{AnonymousMode, ApiKeyConfig, Config, TenantConfig};
use switchboard_testkit::TestServer;
use switchboard_upstream::{HttpSpec, UpstreamError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_cancels_the_call_on_the_server() {
    let (server, hold) = server_with_hold().await;
    let (up, _) = connect(&server).await;
    let params = json!({"name": "hold", "arguments": {}});
    let outcome = request(&up, "tools/call", params, Duration::from_millis(300)).await;
    assert_eq!(outcome, Err(UpstreamError::Timeout));
    assert!(hold.started.load(Ordering::SeqCst));
    eventually("the handler is cancelled", || {
        hold.cancelled.load(Ordering::SeqCst)
    })
    .await;

    let outcome = request(
        &up,
        "tools/call",
        json!({"name": "sleep", "arguments": {"ms": 5000}}),
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(outcome, Err(UpstreamError::Timeout));
    let echo = tool(&up, "echo", json!({"message": "still here"})).await;
    assert!(text(&echo.unwrap()).contains("still here"));
    assert!(up.is_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_call_cancels_it_on_the_server() {
    let (server, hold) = server_with_hold().await;
    let (up, _) = connect(&server).await;
    let call = tool(&up, "hold", json!({}));
    let outer = tokio::time::timeout(Duration::from_millis(300), call).await;
    assert!(outer.is_err(), "the call was still waiting");
    eventually("the handler is cancelled", || {
        hold.cancelled.load(Ordering::SeqCst)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_is_noticed() {
    let server = TestServer::start().await;
    let (up, _) = connect(&server).await;
    let (other, _) = connect(&server).await;
    let id = up.session_id().unwrap().to_owned();
    assert!(server.app.end_session(&id).await.unwrap());

    // Whichever notices first, the event stream or the next request.
    let outcome = tool(&up, "echo", json!({"message": "x"})).await;
    let expired = UpstreamError::Exited("session expired".into());
    assert_eq!(outcome, Err(expired.clone()));
    assert!(!up.is_alive());
    assert_eq!(up.notify("notifications/x", None).await, Err(expired));

    // The event stream notices on its own.
    let id = other.session_id().unwrap().to_owned();
    server.app.end_session(&id).await.unwrap();
    eventually("the other upstream is not alive", || !other.is_alive()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_is_noticed() {
    let server = TestServer::start().await;
    let (up, _) = connect(&server).await;
    server.stop().await;
    let outcome = tool(&up, "echo", json!({"message": "x"})).await;
    assert!(
        matches!(
            &outcome,
            Err(UpstreamError::Exited(_) | UpstreamError::Http(_))
        ),
        "{outcome:?}"
    );
    eventually("the upstream is not alive", || !up.is_alive()).await;
    let outcome = tool(&up, "echo", json!({"message": "x"})).await;
    assert!(
        matches!(&outcome, Err(UpstreamError::Exited(why)) if why.contains("connect")),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_deletes_the_session() {
    let server = TestServer::start().await;
    let (up, _) = connect(&server).await;
    assert_eq!(server.app.live_sessions(), 1);
    up.kill().await;
    assert!(!up.is_alive());
    eventually("the server forgot the session", || {
        server.app.live_sessions() == 0
    })
    .await;
    let outcome = tool(&up, "echo", json!({"message": "x"})).await;
    assert!(
        matches!(outcome, Err(UpstreamError::Exited(_))),
        "{outcome:?}"
    );
    up.kill().await; // twice is fine

    let (dropped, _) = connect(&server).await;
    drop(dropped);
    eventually("dropping deletes the session too", || {
        server.app.live_sessions() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstreams_own_credentials_are_sent() {
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    let (key, sha256) = switchboard_auth::new_api_key();
    config.tenants.push(TenantConfig {
        id: "gateway".into(),
        api_keys: vec![ApiKeyConfig {
            id: "upstream".into(),
            sha256,
        }],
        ..TenantConfig::default()
    });
    let server = TestServer::with(config, switchboard_everything::everything()).await;

    let refused = start(&spec(&server)).await.map(drop);
    let Err(UpstreamError::Init(why)) = refused else {
        panic!("{refused:?}")
    };
    assert!(why.contains("401"), "{why}");

    let spec = spec(&server).with_header("Authorization", format!("Bearer {key}"));
    let (up, _) = start(&spec).await.expect("with its key");
    let echo = tool(&up, "echo", json!({"message": "authorized"})).await;
    assert!(text(&echo.unwrap()).contains("authorized"));
    let shown = format!("{up:?} {spec:?}");
    assert!(!shown.contains(&key), "no credentials in {shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_failures_say_why() {
    let bad = start(&HttpSpec::new("bad", "ftp://example.com/mcp")).await;
    assert!(matches!(bad, Err(UpstreamError::Spawn(_))), "{bad:?}");
    let header = HttpSpec::new("bad", "http://127.0.0.1:1/mcp").with_header("x", "a\nb");
    let bad = start(&header).await;
    assert!(matches!(bad, Err(UpstreamError::Spawn(_))), "{bad:?}");

    // Nothing listens on the port of a stopped server.
    let server = TestServer::start().await;
    let url = server.url();
    server.stop().await;
    let refused = start(&HttpSpec::new("gone", url)).await.map(drop);
    let Err(UpstreamError::Init(why)) = refused else {
        panic!("{refused:?}")
    };
    assert!(
        why.starts_with("gone: ") && why.contains("connect"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_over_the_size_limit_are_refused() {
    let server = TestServer::start().await;
    let (up, _) = connect(&server).await;
    let list = request(&up, "tools/list", json!({}), CALL).await.unwrap();
    let list_size = list.to_string().len();
    let init_size = up.initialize_result().get().len();
    let limit = list_size / 2;
    assert!(
        init_size + 200 < limit,
        "initialize {init_size}, list {list_size}"
    );

    let mut spec = spec(&server);
    spec.max_body_bytes = limit;
    let (up, _) = start(&spec).await.expect("initialize fits");
    let outcome = request(&up, "tools/list", json!({}), CALL).await;
    assert!(
        matches!(&outcome, Err(UpstreamError::Http(why)) if why.contains("larger than")),
        "{outcome:?}"
    );
    // A single event of a reply stream (the elicitation request carries
    // the message) is capped too.
    let long = "x".repeat(limit);
    let outcome = tool(&up, "test_elicitation", json!({"message": long})).await;
    assert!(
        matches!(&outcome, Err(UpstreamError::Http(why)) if why.contains("event larger than")),
        "{outcome:?}"
    );
    let echo = tool(&up, "echo", json!({"message": "small"})).await;
    assert!(text(&echo.unwrap()).contains("small"));
    assert!(up.is_alive());
}
