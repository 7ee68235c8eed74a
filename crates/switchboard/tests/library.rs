//! The library face in process: a server built with
//! `Switchboard::builder()` serving its own typed tool on port 0, called
//! with the testkit's clients in both eras (including a tool that asks the
//! client for input); nested in an axum app, with its background services
//! running (an idle session reaped, a list change delivered to a GET
//! stream) and anonymous clients told apart by address; the built-in
//! toolset when it has no tools; a tool name it shares with an upstream
//! refused at build.

use std::net::SocketAddr;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard::{Config, RequestContext, Server, Switchboard, Tool, ToolError};
use switchboard_testkit::{McpClient, ModernClient, Reply};
use tokio::sync::oneshot;

#[derive(Deserialize, JsonSchema)]
struct Add {
    a: i64,
    b: i64,
}

/// `add` (typed) and `ask` (asks the client for a name).
fn tools() -> switchboard::CatalogBuilder {
    switchboard::CatalogBuilder::new()
        .tool(Tool::typed(
            "add",
            "Adds two integers",
            |_, Add { a, b }: Add| async move { Ok((a + b).to_string()) },
        ))
        .tool(Tool::typed("ask", "Asks for a name", ask))
}

#[derive(Deserialize, JsonSchema)]
struct Nothing {}

async fn ask(ctx: RequestContext, _: Nothing) -> Result<String, ToolError> {
    let answer = ctx
        .elicit(
            json!({"message": "name?", "requestedSchema": {"type": "object",
            "properties": {"name": {"type": "string"}}, "required": ["name"]}}),
        )
        .await?;
    Ok(format!(
        "hello {}",
        answer["content"]["name"].as_str().unwrap_or("?")
    ))
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Serve `server` until the returned sender is used (or dropped).
fn spawn(server: Server) -> (String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let url = format!("http://{}/mcp", server.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
    });
    (url, stop, task)
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_typed_tools_are_served_in_both_eras() {
    let server = Switchboard::builder()
        .config(Config::default())
        .listen(loopback())
        .catalog(tools())
        .build()
        .await
        .expect("build");
    assert_ne!(server.local_addr().port(), 0);
    let (url, stop, task) = spawn(server);

    // 2025-11-25: a session; the tool's question is a request on the
    // call's stream, answered with a POST.
    let mut c = McpClient::new(&url);
    c.initialize(json!({"elicitation": {}})).await;
    let (list, _) = c.call("tools/list", json!({})).await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["add", "ask"], "own tools only, no built-in toolset");
    let add = &list["result"]["tools"][0]["inputSchema"];
    assert_eq!(add["required"], json!(["a", "b"]), "{add}");
    let result = c.call_tool("add", json!({"a": 2, "b": 40})).await;
    assert_eq!(text(&result), "42", "{result}");
    let Reply::Sse(mut s) = c
        .request(7, "tools/call", json!({"name": "ask", "arguments": {}}))
        .await
    else {
        panic!("SSE expected")
    };
    let asked = loop {
        if let Some(v) = s.next().await.unwrap().json() {
            break v;
        }
    };
    assert_eq!(asked["method"], "elicitation/create", "{asked}");
    let answer = json!({"jsonrpc": "2.0", "id": asked["id"],
        "result": {"action": "accept", "content": {"name": "Ada"}}});
    let status = c.post().body(answer.to_string()).send().await.unwrap();
    assert_eq!(status.status(), 202);
    let done = s.next().await.unwrap().json().unwrap();
    assert_eq!(done["id"], 7);
    assert_eq!(text(&done["result"]), "hello Ada", "{done}");

    // 2026-07-28: stateless; the question is an input_required result,
    // answered by calling again.
    let mut m = ModernClient::new(&url);
    m.capabilities = json!({"elicitation": {}});
    let (sum, _) = m
        .call(
            "tools/call",
            json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
        )
        .await;
    assert_eq!(text(&sum["result"]), "3", "{sum}");
    let params = json!({"name": "ask", "arguments": {}});
    let (first, _) = m.call("tools/call", params.clone()).await;
    let r = &first["result"];
    assert_eq!(r["resultType"], "input_required", "{first}");
    let (key, request) = r["inputRequests"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(request["method"], "elicitation/create");
    let mut retry = params;
    retry["inputResponses"] = json!({key: {"action": "accept", "content": {"name": "Bo"}}});
    retry["requestState"] = r["requestState"].clone();
    let (second, _) = m.call("tools/call", retry).await;
    assert_eq!(text(&second["result"]), "hello Bo", "{second}");

    stop.send(()).unwrap();
    task.await.unwrap();
}

/// Without tools of its own, a server serves what the binary does: the
/// built-in toolset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_own_tools_the_builtin_toolset_is_served() {
    let server = Switchboard::builder()
        .config(Config::default())
        .listen(loopback())
        .build()
        .await
        .expect("build");
    assert!(server.catalog().tool("echo").is_some());
    assert!(server.catalog().tool("add").is_some());
    assert_eq!(server.store_summary(), "memory");
    let (url, stop, task) = spawn(server);
    let (echo, _) = ModernClient::new(&url)
        .call(
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "hi"}}),
        )
        .await;
    assert_eq!(text(&echo["result"]), "hi", "{echo}");
    stop.send(()).unwrap();
    task.await.unwrap();
}

/// A tool of the server's own that an upstream also has stops the build,
/// naming both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_shared_with_an_upstream_is_refused() {
    let config =
        Config::from_toml("[[upstreams]]\nname = \"builtin\"\nkind = \"builtin\"\nprefix = \"\"\n")
            .unwrap();
    let err = Switchboard::builder()
        .config(config)
        .listen(loopback())
        .catalog(tools())
        .build()
        .await
        .expect_err("add is the built-in toolset's too");
    let message = err.to_string();
    assert!(
        message.contains("tool name collision: \"add\""),
        "{message}"
    );
    assert!(message.contains("the server's own tools"), "{message}");
}

/// Nested in an axum app: the app's route and MCP on one listener, served
/// by axum; after the shutdown future resolves, no new session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_in_an_axum_app() {
    let (stop_mcp, mcp_stopped) = oneshot::channel::<()>();
    let mcp = Switchboard::builder()
        .config(Config::default())
        .catalog(tools())
        .router(async {
            let _ = mcp_stopped.await;
        })
        .await
        .expect("router");
    let app = axum::Router::new()
        .route("/app", axum::routing::get(|| async { "mine" }))
        .merge(mcp);
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(async move { axum::serve(listener, app).await });
    let own = reqwest::get(format!("http://{addr}/app")).await.unwrap();
    assert_eq!(own.text().await.unwrap(), "mine");

    let url = format!("http://{addr}/mcp");
    let mut c = McpClient::new(&url);
    c.initialize(json!({})).await;
    let result = c.call_tool("add", json!({"a": 20, "b": 22})).await;
    assert_eq!(text(&result), "42", "{result}");

    stop_mcp.send(()).unwrap();
    // Draining: a new session is refused (the stop runs on its own task:
    // ask until it has).
    let mut refused = false;
    for _ in 0..100 {
        let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}});
        let resp = McpClient::new(&url)
            .post()
            .body(init.to_string())
            .send()
            .await
            .unwrap();
        if resp.status() == 503 {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "a draining server took a new session");
    served.abort();
}

/// A nested router (its own tools plus `change`, which says the tool list
/// changed) served by an axum app with the clients' addresses; its base
/// URL, and the sender that stops the MCP server.
async fn nested(config: Config) -> (String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let change = Tool::typed(
        "change",
        "Says the tool list changed",
        |ctx: RequestContext, _: Nothing| async move {
            ctx.publish(switchboard::runtime::ServerEvent::ToolsListChanged);
            Ok("sent".to_owned())
        },
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let mcp = Switchboard::builder()
        .config(config)
        .catalog(tools())
        .tool(change)
        .router(async {
            let _ = stopped.await;
        })
        .await
        .expect("router");
    let app = axum::Router::new().merge(mcp);
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    (format!("http://{addr}"), stop, served)
}

/// A counter's value in the metrics text (0 when absent).
fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Nested, the reaper runs: a session left idle past `session_idle_secs`
/// is ended (the reaper's counter rises, and the session is gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_routers_idle_session_is_reaped() {
    let config = Config {
        session_idle_secs: 1,
        ..Config::default()
    };
    let (base, stop, served) = nested(config).await;
    let mut c = McpClient::new(&format!("{base}/mcp"));
    c.initialize(json!({})).await;
    // Asking the metrics does not touch the session: poll, a bounded
    // number of times, until the reaper (every second here) has ended it.
    let mut expired = 0.0;
    for _ in 0..200 {
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        expired = counter(&metrics, "switchboard_session_expiries_total");
        if expired > 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(expired, 1.0, "the reaper never ended the idle session");
    let resp = c
        .post()
        .body(json!({"jsonrpc": "2.0", "id": 5, "method": "ping"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "the reaped session is unknown");
    stop.send(()).unwrap();
    served.abort();
}

/// Nested, the notifier runs: a list change a tool announces reaches the
/// session's open GET stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_change_reaches_a_nested_routers_get_stream() {
    let (base, stop, served) = nested(Config::default()).await;
    let mut c = McpClient::new(&format!("{base}/mcp"));
    c.initialize(json!({})).await;
    let get = c.get().send().await.expect("GET stream");
    assert_eq!(get.status(), 200);
    let mut events = switchboard_testkit::SseReader::new(get);
    let result = c.call_tool("change", json!({})).await;
    assert_eq!(text(&result), "sent", "{result}");
    // The reader fails after 10 s of silence (a hang guard only: the
    // notifier hands the event out at once; keep-alives come every 15 s).
    let heard = loop {
        let ev = events.next().await.expect("the stream stays open");
        if let Some(v) = ev.json() {
            break v;
        }
    };
    assert_eq!(
        heard["method"], "notifications/tools/list_changed",
        "{heard}"
    );
    stop.send(()).unwrap();
    served.abort();
}

/// A session-era client bound to `ip` (loopback offers all of 127/8).
fn client_from(url: &str, ip: &str) -> McpClient {
    let mut c = McpClient::new(url);
    c.http = reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    c
}

/// The status of an `initialize` from `c`.
async fn initialize_status(c: &McpClient) -> u16 {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let resp = c.post().body(init.to_string()).send().await.unwrap();
    resp.status().as_u16()
}

/// Nested and served with connect info, anonymous clients are told apart
/// by address: one session per identity holds for each address alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_clients_of_a_nested_router_are_told_apart_by_address() {
    let config = Config {
        max_sessions_per_identity: 1,
        ..Config::default()
    };
    let (base, stop, served) = nested(config).await;
    let url = format!("{base}/mcp");
    let one = client_from(&url, "127.0.0.1");
    assert_eq!(initialize_status(&one).await, 200);
    assert_eq!(
        initialize_status(&one).await,
        503,
        "a second session of 127.0.0.1 is past its cap"
    );
    let two = client_from(&url, "127.0.0.2");
    assert_eq!(
        initialize_status(&two).await,
        200,
        "127.0.0.2 is another identity, with room of its own"
    );
    stop.send(()).unwrap();
    served.abort();
}

/// What the `wait` tool says: it started, and it saw its cancellation.
#[derive(Default)]
struct Seen {
    started: tokio::sync::Notify,
    cancelled: tokio::sync::Notify,
}

#[derive(Deserialize, JsonSchema)]
struct Wait {}

/// Tells `cancelled` when the tool's future ends, run out or dropped.
struct Ended(std::sync::Arc<Seen>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.cancelled.notify_one();
    }
}

/// A client's notifications/cancelled ends a typed tool of the server's
/// own, in a session (its future is dropped, or `ctx.cancelled()` wakes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_call_is_seen_by_the_tool() {
    let seen = std::sync::Arc::new(Seen::default());
    let wait = Tool::typed("wait", "Waits to be cancelled", |ctx, _: Wait| async move {
        let seen = ctx.state::<Seen>().expect("state");
        let _ended = Ended(seen.clone());
        seen.started.notify_one();
        ctx.cancelled().await;
        Ok("cancelled".to_owned())
    });
    let server = Switchboard::builder()
        .config(Config::default())
        .listen(loopback())
        .catalog(switchboard::CatalogBuilder::new().state(seen.clone()))
        .tool(wait)
        .build()
        .await
        .expect("build");
    let (url, stop, task) = spawn(server);
    let mut c = McpClient::new(&url);
    c.initialize(json!({})).await;
    let mut caller = McpClient::new(&url);
    caller.session = c.session.clone();
    caller.version = c.version.clone();
    let call = tokio::spawn(async move {
        caller
            .request(9, "tools/call", json!({"name": "wait", "arguments": {}}))
            .await
    });
    seen.started.notified().await;
    let status = c
        .notify("notifications/cancelled", json!({"requestId": 9}))
        .await;
    assert_eq!(status, 202);
    // A hang guard only: the tool is told at once.
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        seen.cancelled.notified(),
    )
    .await
    .expect("the tool never saw its cancellation");
    call.abort();
    stop.send(()).unwrap();
    task.await.unwrap();
}
