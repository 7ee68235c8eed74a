//! A noisy tenant and a quiet one, for the fairness of server events: a
//! `flood` tool publishes resource updates without pause until it is told
//! to stop, and a `touch` tool updates one of the quiet tenant's
//! resources. [`quiet_tenant_hears`] runs the scenario and returns what the
//! quiet tenant's GET stream heard, to be compared with what was produced
//! for it (counted, not timed).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::{Map, Value, json};
use switchboard_runtime::{
    CatalogBuilder, RequestContext, Resource, ServerEvent, Tool, ToolError, ToolResult,
};
use tokio::sync::Notify;

use crate::client::McpClient;
use crate::sse::SseReader;

/// The quiet tenant's resources touched during the flood; one more
/// (`doc(QUIET_EVENTS)`) marks the end.
pub const QUIET_EVENTS: usize = 40;
/// The resource the flood updates.
pub const NOISY_URI: &str = "test://watched-resource";
/// Events the flood publishes before it lets the quiet tenant start.
const WARM_UP: u64 = 8192;
/// A flood nobody stops ends here.
const MAX_FLOOD: u64 = 50_000_000;

/// The URI of the quiet tenant's resource `i`.
pub fn doc(i: usize) -> String {
    format!("quiet://doc/{i}")
}

/// The flood's controls, shared with the `flood` tool.
#[derive(Debug, Clone, Default)]
pub struct Flood {
    stop: Arc<AtomicBool>,
    started: Arc<Notify>,
    published: Arc<AtomicU64>,
}

impl Flood {
    /// `base` with the quiet tenant's resources and the `touch` and `flood`
    /// tools.
    pub fn catalog(&self, mut base: CatalogBuilder) -> CatalogBuilder {
        for i in 0..=QUIET_EVENTS {
            base = base.resource(Resource::text(&doc(i), "doc", "text/plain", "quiet"));
        }
        let flood = self.clone();
        base.tool(Tool::new(
            "touch",
            "Publishes an update of quiet://doc/{i}",
            json!({"type": "object", "properties": {"i": {"type": "integer"}}}),
            |ctx: RequestContext, args: Map<String, Value>| async move {
                let i = args.get("i").and_then(Value::as_u64).unwrap_or(0) as usize;
                ctx.publish(ServerEvent::ResourceUpdated { uri: doc(i) });
                Ok(ToolResult::text("touched"))
            },
        ))
        .tool(Tool::new(
            "flood",
            "Publishes updates of the watched resource until told to stop",
            json!({"type": "object"}),
            move |ctx: RequestContext, _| {
                let flood = flood.clone();
                async move { flood.run(&ctx).await }
            },
        ))
    }

    async fn run(&self, ctx: &RequestContext) -> Result<ToolResult, ToolError> {
        let mut n = 0u64;
        while !self.stop.load(Ordering::Relaxed) && n < MAX_FLOOD {
            for _ in 0..64 {
                ctx.publish(ServerEvent::ResourceUpdated {
                    uri: NOISY_URI.into(),
                });
            }
            n += 64;
            if n == WARM_UP {
                self.started.notify_one();
            }
            tokio::task::yield_now().await;
        }
        self.published.store(n, Ordering::Relaxed);
        Ok(ToolResult::text(n.to_string()))
    }
}

/// What the quiet tenant's GET stream heard, and how many events the flood
/// published meanwhile.
#[derive(Debug)]
pub struct Heard {
    /// The URIs of the `notifications/resources/updated` before the end
    /// mark, in the order they came.
    pub uris: Vec<String>,
    /// The `notifications/resources/updated` events the `flood` tool
    /// published.
    pub flood_events: u64,
}

/// The scenario: each `noisy` session (initialized) subscribes to the
/// flooded resource and opens a GET stream it never reads (a slow
/// tenant); `quiet` (initialized) subscribes to its own resources and
/// opens a GET stream at `quiet_get_url`; `flooder` (a session of the
/// noisy tenant) calls `flood`; while the flood runs, `quiet` touches
/// each of its resources once, one call after the other; then the flood
/// stops and `quiet` touches the end mark. The stream is read up to the
/// mark.
pub async fn quiet_tenant_hears(
    flood: &Flood,
    quiet: &McpClient,
    quiet_get_url: &str,
    noisy: &[McpClient],
    flooder: McpClient,
) -> Heard {
    let mut slow_streams = Vec::new();
    for c in noisy {
        subscribe(c, NOISY_URI).await;
        slow_streams.push(open_get(c, &c.url).await);
    }
    for i in 0..=QUIET_EVENTS {
        subscribe(quiet, &doc(i)).await;
    }
    let mut stream = open_get(quiet, quiet_get_url).await;

    let running = tokio::spawn(async move { flooder.call_tool("flood", json!({})).await });
    flood.started.notified().await;
    for i in 0..QUIET_EVENTS {
        touch(quiet, i).await;
    }
    flood.stop.store(true, Ordering::Relaxed);
    let done = running.await.expect("the flood call");
    assert!(done["content"][0]["text"].is_string(), "{done}");
    touch(quiet, QUIET_EVENTS).await;

    let end = doc(QUIET_EVENTS);
    let mut uris = Vec::new();
    loop {
        let ev = stream.next().await.expect("the quiet stream stays open");
        let Some(v) = ev.json() else { continue };
        assert_eq!(v["method"], "notifications/resources/updated", "{v}");
        let uri = v["params"]["uri"].as_str().expect("a URI").to_owned();
        if uri == end {
            break;
        }
        uris.push(uri);
    }
    drop(slow_streams);
    Heard {
        uris,
        flood_events: flood.published.load(Ordering::Relaxed),
    }
}

async fn subscribe(c: &McpClient, uri: &str) {
    let (r, _) = c.call("resources/subscribe", json!({"uri": uri})).await;
    assert_eq!(r["result"], json!({}), "subscribe {uri}: {r}");
}

async fn touch(c: &McpClient, i: usize) {
    let r = c.call_tool("touch", json!({"i": i})).await;
    assert_eq!(r["content"][0]["text"], "touched", "{r}");
}

/// A GET stream of `c`'s session at `url`, past its priming event.
async fn open_get(c: &McpClient, url: &str) -> SseReader {
    let mut rb = c.http.get(url).header("accept", "text/event-stream");
    if let Some(s) = &c.session {
        rb = rb
            .header("mcp-session-id", s)
            .header("mcp-protocol-version", &c.version);
    }
    let resp = rb.send().await.expect("GET");
    assert_eq!(resp.status(), 200, "GET {url}");
    let mut stream = SseReader::new(resp);
    let priming = stream.next().await.expect("a priming event");
    assert_eq!(priming.data, "", "{priming:?}");
    stream
}
