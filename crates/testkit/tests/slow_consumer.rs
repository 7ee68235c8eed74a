//! A slow reader's stream is closed instead of buffering without bound, and
//! everything it missed is in the event log: resuming with Last-Event-ID
//! delivers each missed event exactly once, in order.

use std::time::Duration;

use serde_json::json;
use switchboard_runtime::{RequestContext, Tool, ToolResult};
use switchboard_server::Config;
use switchboard_testkit::{Reply, SseReader, TestServer};

const EVENTS: u64 = 20_000;

#[tokio::test]
async fn slow_stream_is_cut_and_resumes_without_loss() {
    let config = Config {
        stream_buffer: 8,
        event_log_events: 50_000,
        event_log_bytes: 64 << 20,
        ..Config::default()
    };
    let catalog = switchboard_everything::everything().tool(Tool::new(
        "flood",
        "sends many progress notifications",
        json!({"type": "object"}),
        |ctx: RequestContext, _| async move {
            for i in 0..EVENTS {
                ctx.progress(i as f64, Some(EVENTS as f64), None).await;
            }
            Ok(ToolResult::text("flooded"))
        },
    ));
    let server = TestServer::with(config, catalog).await;
    let mut c = server.client();
    c.initialize(json!({})).await;
    // A 1 KiB token makes each event large, so the stream outgrows the
    // socket buffers while the client does not read.
    let token = "t".repeat(1024);
    let Reply::Sse(mut first) = c
        .request(
            9,
            "tools/call",
            json!({"name": "flood", "arguments": {}, "_meta": {"progressToken": token}}),
        )
        .await
    else {
        panic!("an SSE reply")
    };
    tokio::time::sleep(Duration::from_secs(1)).await; // not reading: a slow consumer

    let mut seen: Vec<u64> = Vec::new();
    let mut last_id = None;
    let mut answered = false;
    while let Some(ev) = first.next().await {
        last_id = ev.id.clone().or(last_id);
        record(&ev, &mut seen, &mut answered);
    }
    assert!(!answered, "the server cut the slow stream before the end");
    assert!(
        seen.len() < EVENTS as usize,
        "the slow stream was cut early: {} events",
        seen.len()
    );

    let resp = c
        .get()
        .header("last-event-id", last_id.expect("an event id"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut resumed = SseReader::new(resp);
    while !answered {
        let ev = resumed.next().await.expect("the rest of the stream");
        record(&ev, &mut seen, &mut answered);
    }
    assert_eq!(
        seen,
        (0..EVENTS).collect::<Vec<_>>(),
        "every event exactly once, in order"
    );
}

fn record(ev: &switchboard_testkit::SseEvent, seen: &mut Vec<u64>, answered: &mut bool) {
    let Some(v) = ev.json() else { return };
    if v["method"] == "notifications/progress" {
        seen.push(v["params"]["progress"].as_f64().unwrap() as u64);
    } else if v["id"] == 9 {
        assert!(!*answered, "the response arrives once");
        assert_eq!(v["result"]["content"][0]["text"], "flooded");
        *answered = true;
    }
}
