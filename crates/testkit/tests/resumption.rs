//! SSE resumption: a stream cut mid-way is resumed with `Last-Event-ID`, and
//! the client receives every missed event exactly once, in order.

use serde_json::json;
use switchboard_testkit::{McpClient, Reply, SseReader, TestServer};

async fn open_get(c: &McpClient, last_event_id: Option<&str>) -> SseReader {
    let mut rb = c.get();
    if let Some(id) = last_event_id {
        rb = rb.header("last-event-id", id);
    }
    let resp = rb.send().await.expect("GET");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    SseReader::new(resp)
}

async fn update(c: &McpClient) -> u64 {
    let r = c.call_tool("update_watched_resource", json!({})).await;
    let text = r["content"][0]["text"].as_str().unwrap().to_owned();
    text.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn standalone_stream_resumes_exactly_once_in_order() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    let (r, _) = c
        .call(
            "resources/subscribe",
            json!({"uri": "test://watched-resource"}),
        )
        .await;
    assert_eq!(r["result"], json!({}));

    let mut stream = open_get(&c, None).await;
    let priming = stream.next().await.expect("priming event");
    assert_eq!(priming.data, "");
    assert!(priming.id.is_some() && priming.retry.is_some());

    // Three events arrive live.
    let mut seen = Vec::new();
    for _ in 0..3 {
        update(&c).await;
        let ev = stream.next().await.expect("live event");
        assert_eq!(
            ev.json().unwrap()["method"],
            "notifications/resources/updated"
        );
        seen.push(ev.id.clone().unwrap());
    }
    // The connection is cut; three more updates happen while it is down.
    drop(stream);
    let last = seen.last().unwrap().clone();
    for _ in 0..3 {
        update(&c).await;
    }
    // Resume: exactly the three missed events, in order, then live ones.
    let mut stream = open_get(&c, Some(&last)).await;
    let mut resumed = Vec::new();
    for _ in 0..3 {
        resumed.push(stream.next().await.expect("replayed event"));
    }
    update(&c).await;
    resumed.push(stream.next().await.expect("live after resume"));
    let ids: Vec<String> = resumed.iter().map(|e| e.id.clone().unwrap()).collect();
    let stream_of = |id: &str| id.split('-').next().unwrap().to_owned();
    let seq_of = |id: &str| id.split('-').nth(1).unwrap().parse::<u64>().unwrap();
    let last_seq = seq_of(&last);
    assert_eq!(
        ids.iter().map(|i| seq_of(i)).collect::<Vec<_>>(),
        (last_seq + 1..=last_seq + 4).collect::<Vec<_>>(),
        "every missed event once, in order: {ids:?} after {last}"
    );
    assert!(
        ids.iter().all(|i| stream_of(i) == stream_of(&last)),
        "same stream only"
    );
    for e in &resumed {
        assert_eq!(
            e.json().unwrap()["params"]["uri"],
            "test://watched-resource"
        );
    }
    // Nothing more is pending: no duplicate arrives.
    assert!(
        stream
            .next_within(std::time::Duration::from_millis(300))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn post_stream_closed_early_is_resumed_with_get() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    // A second GET stream is open, as real clients have: resuming must not conflict with it.
    let _standalone = open_get(&c, None).await;

    let id = c.id();
    let Reply::Sse(stream) = c
        .request(
            id,
            "tools/call",
            json!({"name": "test_reconnection", "arguments": {}}),
        )
        .await
    else {
        panic!("expected an SSE reply")
    };
    let events = stream.collect().await;
    assert_eq!(
        events.len(),
        1,
        "only the priming event before the early close: {events:?}"
    );
    let priming = &events[0];
    assert_eq!(priming.data, "");
    assert!(priming.retry.is_some());
    let last = priming.id.clone().unwrap();

    let mut resumed = open_get(&c, Some(&last)).await;
    let ev = resumed.next().await.expect("the response after resuming");
    let v = ev.json().unwrap();
    assert_eq!(v["id"], json!(id));
    assert!(
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Reconnection")
    );
    assert_eq!(
        resumed.next().await,
        None,
        "the finished stream closes after its response"
    );
}

#[tokio::test]
async fn resumption_never_crosses_streams() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    // A streamed tool call writes events on its own stream.
    let (resp, before) = c.call("tools/call", json!({"name": "test_tool_with_progress", "arguments": {}, "_meta": {"progressToken": "t"}})).await;
    assert!(resp["result"].is_object());
    assert_eq!(before.len(), 3, "three progress notifications first");
    // Resuming the standalone stream from its start replays nothing of it.
    let mut s = open_get(&c, Some("0-0")).await;
    assert!(
        s.next_within(std::time::Duration::from_millis(300))
            .await
            .is_err()
    );
}
