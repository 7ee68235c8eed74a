//! An HTTP upstream doing its job against a real Switchboard server:
//! handshake, lists, concurrent calls, progress, logs, requests to the
//! client, resumed reply streams and the session's own event stream.

use crate::http_support;

use std::collections::HashSet;

use futures_util::future::join_all;
use http_support::*;
use serde_json::{Value, json};
use switchboard_testkit::TestServer;
use switchboard_upstream::{PROTOCOL_VERSION, UpstreamError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_and_lists() {
    let server = TestServer::start().await;
    let (up, _) = connect(&server).await;
    let init: Value = serde_json::from_str(up.initialize_result().get()).unwrap();
    assert_eq!(init["protocolVersion"], PROTOCOL_VERSION);
    assert!(init["serverInfo"]["name"].is_string(), "{init}");
    assert!(init["capabilities"]["tools"].is_object(), "{init}");
    assert_eq!(up.protocol_version(), PROTOCOL_VERSION);
    assert!(up.session_id().is_some(), "the server keeps sessions");
    assert!(up.is_alive());
    assert_eq!(up.name(), "everything");

    let tools = request(&up, "tools/list", json!({}), CALL).await.unwrap();
    let names: HashSet<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for name in ["echo", "add", "sleep", "test_elicitation"] {
        assert!(names.contains(name), "{name} listed");
    }
    let prompts = request(&up, "prompts/list", json!({}), CALL).await.unwrap();
    assert!(prompts["prompts"].is_array(), "{prompts}");

    let missing = request(&up, "no/such/method", json!({}), CALL).await;
    let Err(UpstreamError::Rpc(e)) = missing else {
        panic!("{missing:?}")
    };
    assert_eq!(e.code.0, -32601);
    up.notify("notifications/roots/list_changed", None)
        .await
        .expect("a notification is accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_answer_and_concurrent_calls_get_their_own_answers() {
    let server = TestServer::start().await;
    let (up, _) = connect(&server).await;
    let echo = tool(&up, "echo", json!({"message": "hi"})).await.unwrap();
    assert!(text(&echo).contains("hi"), "{echo}");
    let sum = tool(&up, "add", json!({"a": 2, "b": 40})).await.unwrap();
    assert_eq!(sum["structuredContent"]["sum"], 42.0);

    let answers = join_all((0..20).map(|n| {
        let up = &up;
        async move {
            let message = format!("message {n}");
            let echo = tool(up, "echo", json!({"message": message})).await.unwrap();
            let sum = tool(up, "add", json!({"a": n, "b": 1000})).await.unwrap();
            (n, echo, sum)
        }
    }))
    .await;
    for (n, echo, sum) in answers {
        assert!(text(&echo).ends_with(&format!("message {n}")), "{echo}");
        assert_eq!(sum["structuredContent"]["sum"], f64::from(n + 1000));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_reaches_the_downstream_with_the_original_token() {
    let server = TestServer::start().await;
    let (up, recorder) = connect(&server).await;
    let params = json!({
        "name": "test_tool_with_progress",
        "arguments": {},
        "_meta": {"progressToken": "client-token-7"}
    });
    let result = request(&up, "tools/call", params, CALL).await.unwrap();
    assert_eq!(text(&result), "Tool with progress executed successfully");
    let progress = recorder.notes("notifications/progress");
    let steps: Vec<f64> = progress
        .iter()
        .map(|p| {
            assert_eq!(p["progressToken"], "client-token-7", "{p}");
            p["progress"].as_f64().unwrap()
        })
        .collect();
    assert_eq!(steps, [0.0, 50.0, 100.0], "in order, before the result");

    // Two calls with the same token of their callers do not mix.
    let (a, b) = tokio::join!(
        request(
            &up,
            "tools/call",
            json!({"name": "sleep", "arguments": {"ms": 200}, "_meta": {"progressToken": 1}}),
            CALL
        ),
        request(
            &up,
            "tools/call",
            json!({"name": "sleep", "arguments": {"ms": 200}, "_meta": {"progressToken": 1}}),
            CALL
        ),
    );
    a.unwrap();
    b.unwrap();
    let ones = recorder
        .notes("notifications/progress")
        .into_iter()
        .filter(|p| p["progressToken"] == 1)
        .count();
    assert_eq!(
        ones, 20,
        "ten steps each, every one with the caller's token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_messages_before_the_result_are_passed_on() {
    let server = TestServer::start().await;
    let (up, recorder) = connect(&server).await;
    let result = tool(&up, "test_tool_with_logging", json!({}))
        .await
        .unwrap();
    assert_eq!(text(&result), "Tool with logging executed successfully");
    let logs = recorder.notes("notifications/message");
    assert_eq!(logs.len(), 3, "{logs:?}");
    assert_eq!(logs[0]["data"], "Tool execution started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_the_client_round_trip() {
    let server = TestServer::start().await;
    let (up, recorder) = connect(&server).await;
    let result = tool(&up, "test_elicitation", json!({"message": "who are you?"}))
        .await
        .unwrap();
    assert!(text(&result).contains("action=accept"), "{result}");
    assert!(text(&result).contains("ada@example.com"), "{result}");
    let asked = recorder.requests("elicitation/create");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["message"], "who are you?");

    let result = tool(
        &up,
        "test_sampling",
        json!({"prompt": "capital of France?"}),
    )
    .await
    .unwrap();
    assert_eq!(text(&result), "LLM response: Paris");
    let sampled = recorder.requests("sampling/createMessage");
    assert_eq!(
        sampled[0]["messages"][0]["content"]["text"],
        "capital of France?"
    );

    // Several at once, each answered on its own stream.
    let results = join_all((0..5).map(|n| {
        let up = &up;
        async move { tool(up, "test_elicitation", json!({"message": format!("q{n}")})).await }
    }))
    .await;
    for r in results {
        assert!(text(&r.unwrap()).contains("action=accept"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_stream_closed_early_is_resumed() {
    let server = TestServer::start().await;
    let (up, _) = connect(&server).await;
    let result = tool(&up, "test_reconnection", json!({})).await.unwrap();
    assert_eq!(text(&result), "Reconnection test completed successfully");
    assert!(up.is_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_stream_carries_what_comes_outside_requests() {
    let server = TestServer::start().await;
    let (up, recorder) = connect(&server).await;
    let uri = "test://watched-resource";
    request(&up, "resources/subscribe", json!({"uri": uri}), CALL)
        .await
        .unwrap();
    // Another session changes the resource: only the GET stream can bring
    // the news to this one.
    let (other, _) = connect(&server).await;
    until_stream_open(&other, &recorder).await;
    let updated = recorder.notes("notifications/resources/updated");
    assert_eq!(updated[0]["uri"], uri);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_session_stream_is_resumed_without_losing_events() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(&server).await;
    let spec = switchboard_upstream::HttpSpec::new("proxied", proxy.url.clone());
    let (up, recorder) = start(&spec).await.unwrap();
    let uri = "test://watched-resource";
    request(&up, "resources/subscribe", json!({"uri": uri}), CALL)
        .await
        .unwrap();
    let (other, _) = connect(&server).await;
    let updates = || recorder.notes("notifications/resources/updated").len();
    let before = until_stream_open(&other, &recorder).await;

    // Cut the stream; what happens before it is reopened is replayed.
    proxy.cut();
    for _ in 0..2 {
        tool(&other, "update_watched_resource", json!({}))
            .await
            .unwrap();
    }
    eventually("the updates made while cut", || updates() == before + 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(updates(), before + 2, "each exactly once");
    assert!(up.is_alive());
    let echo = tool(&up, "echo", json!({"message": "after"}))
        .await
        .unwrap();
    assert!(text(&echo).contains("after"));
}
