//! A stdio upstream doing its job: handshake, concurrent calls, progress,
//! requests to the client.

use crate::common;

use std::collections::HashSet;

use common::*;
use futures_util::future::join_all;
use serde_json::{Value, json};
use switchboard_proto::ErrorCode;
use switchboard_upstream::{PROTOCOL_VERSION, UpstreamError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_and_initialize_result() {
    let (up, _) = start(&fixture("init")).await;
    let init: Value = serde_json::from_str(up.initialize_result().get()).unwrap();
    assert_eq!(init["protocolVersion"], PROTOCOL_VERSION);
    assert_eq!(init["serverInfo"]["name"], "fixture");
    assert_eq!(init["instructions"], "a test fixture");
    assert_eq!(init["capabilities"]["tools"]["listChanged"], true);
    assert_eq!(init["seenClientInfo"]["name"], "switchboard-tests");
    assert_eq!(init["seenCapabilities"], json!({"elicitation": {}}));

    let state = call(&up, "cancelled", json!({})).await.unwrap();
    assert_eq!(
        state["initialized"], true,
        "notifications/initialized was sent"
    );
    assert!(up.is_alive());
    let pid = call(&up, "pid", json!({})).await.unwrap();
    assert_eq!(pid.as_u64(), up.pid().map(u64::from));
    assert_eq!(up.name(), "init");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_get_their_own_answers() {
    let (up, _) = start(&fixture("concurrent")).await;
    let echoes = join_all((0..32).map(|n| {
        let up = &up;
        async move { (n, call(up, "echo", json!({"n": n})).await.unwrap()) }
    }))
    .await;
    let mut seen_ids = HashSet::new();
    for (n, answer) in echoes {
        assert_eq!(answer["arguments"]["n"], n);
        assert!(answer["id"].is_u64(), "the upstream sees our numeric ids");
        assert!(seen_ids.insert(answer["id"].to_string()), "ids are unique");
    }

    let counts = join_all((0..10).map(|_| call(&up, "count", json!({})))).await;
    let counts: HashSet<u64> = counts
        .into_iter()
        .map(|c| c.unwrap().as_u64().unwrap())
        .collect();
    assert_eq!(counts, (1..=10).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_tokens_are_rewritten_and_restored() {
    let (up, recorder) = start(&fixture("progress")).await;
    let slow = |token: Value| {
        let params = json!({
            "name": "slow",
            "arguments": {"ms": 60, "steps": 3},
            "_meta": {"progressToken": token, "other": "kept"},
        });
        call_params(&up, params, CALL)
    };
    let (a, b) = tokio::join!(slow(json!(7)), slow(json!("abc")));
    let (seen_a, seen_b) = (a.unwrap()["token"].clone(), b.unwrap()["token"].clone());
    assert_ne!(seen_a, json!(7), "the upstream saw our token");
    assert_ne!(seen_b, json!("abc"));
    assert_ne!(seen_a, seen_b, "tokens are unique per call");

    // Progress is delivered before the answer that follows it.
    let progress: Vec<Value> = recorder
        .notes("notifications/progress")
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert_eq!(progress.len(), 6, "{progress:?}");
    for token in [json!(7), json!("abc")] {
        let mine: Vec<&Value> = progress
            .iter()
            .filter(|p| p["progressToken"] == token)
            .collect();
        assert_eq!(mine.len(), 3, "{token}: {progress:?}");
        assert_eq!(mine[0]["total"], 3);
        assert_eq!(mine[2]["message"], "step 3");
    }
    let raw_texts = recorder.notes("notifications/progress");
    assert!(raw_texts.iter().any(|p| p.contains(r#""progressToken":7"#)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_the_client_round_trip() {
    let (up, recorder) = start(&fixture("elicit")).await;
    let answer = call(&up, "ask", json!({"question": "the answer?"}))
        .await
        .unwrap();
    assert_eq!(answer, serde_json::from_str::<Value>(ELICITED).unwrap());
    let requests = recorder.requests.lock().clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0, "elicitation/create");
    assert!(requests[0].1.contains("the answer?"));

    // ping is answered by the gateway itself.
    let pong = call(&up, "ping_client", json!({})).await.unwrap();
    assert_eq!(pong, json!({}));
    assert_eq!(recorder.requests.lock().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_odd_params_pass_through() {
    let (up, _) = start(&fixture("errors")).await;
    match call(&up, "no-such-tool", json!({})).await {
        Err(UpstreamError::Rpc(e)) => {
            assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
            assert!(e.message.contains("no-such-tool"));
        }
        other => panic!("expected an RPC error, got {other:?}"),
    }
    // Pretty-printed params still go out as one line.
    let params = raw("{\n  \"name\": \"echo\",\n  \"arguments\": {\"s\": \"a\\nb\"}\n}");
    let result = up.request("tools/call", Some(&params), CALL).await.unwrap();
    let result: Value = serde_json::from_str(result.get()).unwrap();
    assert_eq!(
        result["structuredContent"]["value"]["arguments"]["s"],
        "a\nb"
    );

    up.notify("notifications/roots/list_changed", None)
        .await
        .unwrap();
    assert!(up.is_alive());
}
