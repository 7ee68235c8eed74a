//! Tenants share one endpoint but nothing else: 3 tenants × 50 concurrent
//! sessions on both eras call a tool that reports who it serves, with
//! random cancellations and disconnects; every response, progress
//! notification and stream event must belong to the session (or request)
//! that receives it, and another tenant's credentials never reach a
//! session (404, exactly like an unknown id).

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_server::{AnonymousMode, ApiKeyConfig, Config, TenantConfig};
use switchboard_testkit::{McpClient, ModernClient, Reply, TestServer};

const TENANTS: [&str; 3] = ["red", "green", "blue"];
const SESSIONS: usize = 50;

struct Tenant {
    id: &'static str,
    key: String,
}

async fn server() -> (TestServer, Arc<Vec<Tenant>>) {
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    let mut tenants = Vec::new();
    for id in TENANTS {
        let (key, sha256) = switchboard_auth::new_api_key();
        config.tenants.push(TenantConfig {
            id: id.into(),
            api_keys: vec![ApiKeyConfig {
                id: "agent".into(),
                sha256,
            }],
            ..TenantConfig::default()
        });
        tenants.push(Tenant { id, key });
    }
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    (server, Arc::new(tenants))
}

/// Check a `whoami` identity (a result's structured content or a progress
/// message) names exactly this tenant, session and nonce.
fn check_identity(who: &Value, tenant: &str, session: Option<&str>, nonce: &str) {
    assert_eq!(who["tenant"], tenant, "{who}");
    assert_eq!(who["subject"], "agent", "{who}");
    assert_eq!(who["session"].as_str(), session, "{who}");
    assert_eq!(who["nonce"], nonce, "{who}");
}

/// Check every message of a stream belongs to this call.
fn check_messages(messages: &[Value], tenant: &str, session: Option<&str>, nonce: &str) {
    for m in messages {
        match m["method"].as_str() {
            Some("notifications/progress") => {
                let text = m["params"]["message"].as_str().expect("progress message");
                let who: Value = serde_json::from_str(text).expect("identity JSON");
                check_identity(&who, tenant, session, nonce);
            }
            Some(other) => panic!("unexpected message {other}: {m}"),
            None => {
                check_identity(&m["result"]["structuredContent"], tenant, session, nonce);
            }
        }
    }
}

/// The first JSON-RPC message of a stream (after any priming event).
async fn first_message(stream: &mut switchboard_testkit::SseReader) -> Value {
    loop {
        let ev = stream.next().await.expect("an event before the end");
        if let Some(v) = ev.json() {
            return v;
        }
    }
}

/// What a stream still carries until it ends (or stays silent for 5 s).
async fn drain(mut stream: switchboard_testkit::SseReader) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(Some(ev)) = stream.next_within(std::time::Duration::from_secs(5)).await {
        out.extend(ev.json());
    }
    out
}

fn whoami(nonce: &str, steps: u64) -> Value {
    json!({"name": "whoami", "arguments": {"nonce": nonce, "steps": steps, "delay_ms": 5},
           "_meta": {"progressToken": nonce}})
}

/// One session-era client: calls, a cancelled call, a dropped stream, and
/// a GET stream that must stay silent of others.
async fn legacy_session(url: String, t: &Tenant, n: usize) -> String {
    let mut c = McpClient::with_token(&url, &t.key);
    c.initialize(json!({})).await;
    let sid = c.session.clone().expect("session id");
    for round in 0..3 {
        let nonce = format!("{}-{n}-{round}", t.id);
        let (resp, before) = c.call("tools/call", whoami(&nonce, 2)).await;
        let mut all = before;
        all.push(resp);
        check_messages(&all, t.id, Some(&sid), &nonce);
    }
    // Random disturbances: cancel a call after its first event, or walk
    // away from its stream.
    let nonce = format!("{}-{n}-x", t.id);
    let id = c.id();
    let body =
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": whoami(&nonce, 5)});
    let resp = c.post().body(body.to_string()).send().await.expect("post");
    if let Reply::Sse(mut stream) = McpClient::classify(resp).await {
        let first = first_message(&mut stream).await;
        check_messages(&[first], t.id, Some(&sid), &nonce);
        if n.is_multiple_of(2) {
            c.notify("notifications/cancelled", json!({"requestId": id}))
                .await;
            check_messages(&drain(stream).await, t.id, Some(&sid), &nonce);
        }
        // else: dropped here, mid-stream
    }
    // The session still serves its own after the disturbance.
    let nonce = format!("{}-{n}-after", t.id);
    let (resp, before) = c.call("tools/call", whoami(&nonce, 1)).await;
    let mut all = before;
    all.push(resp);
    check_messages(&all, t.id, Some(&sid), &nonce);
    sid
}

async fn modern_client(url: String, t: &Tenant, n: usize) {
    let c = ModernClient::with_token(&url, &t.key);
    for round in 0..3 {
        let nonce = format!("{}-m{n}-{round}", t.id);
        let (resp, before) = c.call("tools/call", whoami(&nonce, 2)).await;
        let mut all = before;
        all.push(resp);
        check_messages(&all, t.id, None, &nonce);
    }
    // A request abandoned mid-stream.
    let nonce = format!("{}-m{n}-x", t.id);
    if let Reply::Sse(mut stream) = c.request(7, "tools/call", whoami(&nonce, 5)).await {
        let first = first_message(&mut stream).await;
        check_messages(&[first], t.id, None, &nonce);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_never_see_each_other() {
    let (server, tenants) = server().await;
    let url = server.url();
    let mut tasks = tokio::task::JoinSet::new();
    for ti in 0..TENANTS.len() {
        for n in 0..SESSIONS {
            let (url, tenants) = (url.clone(), tenants.clone());
            tasks.spawn(async move {
                let t = &tenants[ti];
                let (sid, ()) = tokio::join!(
                    legacy_session(url.clone(), t, n),
                    modern_client(url.clone(), t, n)
                );
                (ti, sid)
            });
        }
    }
    let mut sessions = Vec::new();
    while let Some(done) = tasks.join_next().await {
        sessions.push(done.expect("client task"));
    }
    assert_eq!(sessions.len(), TENANTS.len() * SESSIONS);

    // Hijack attempts: every session, presented with every other tenant's
    // key, is unknown — on POST, GET and DELETE alike.
    let mut attempts = 0;
    for (owner, sid) in sessions.iter().step_by(7) {
        for (ti, t) in tenants.iter().enumerate() {
            if ti == *owner {
                continue;
            }
            let mut thief = McpClient::with_token(&url, &t.key);
            thief.session = Some(sid.clone());
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": whoami("stolen", 0)});
            let post = thief.post().body(body.to_string()).send().await.unwrap();
            assert_eq!(post.status(), StatusCode::NOT_FOUND);
            let get = thief.get().send().await.unwrap();
            assert_eq!(get.status(), StatusCode::NOT_FOUND);
            assert_eq!(thief.delete().await, StatusCode::NOT_FOUND);
            attempts += 3;
        }
        // Without any credential: 401, not a hint that the session exists.
        let mut anonymous = McpClient::new(&url);
        anonymous.session = Some(sid.clone());
        let get = anonymous.get().send().await.unwrap();
        assert_eq!(get.status(), StatusCode::UNAUTHORIZED);
        // The owner still has it.
        let mut owner_client = McpClient::with_token(&url, &tenants[*owner].key);
        owner_client.session = Some(sid.clone());
        owner_client.version = "2025-11-25".into();
        let (resp, _) = owner_client.call("tools/call", whoami("mine", 0)).await;
        check_identity(
            &resp["result"]["structuredContent"],
            tenants[*owner].id,
            Some(sid),
            "mine",
        );
    }
    assert!(attempts > 40, "{attempts} hijack attempts");
    let metrics = reqwest::get(format!("http://{}/metrics", server.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused = metrics
        .lines()
        .filter(|l| {
            l.starts_with("switchboard_tenant_rejections_total") && l.contains("session_binding")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    assert_eq!(
        refused as usize, attempts,
        "every hijack attempt is a counted security event"
    );
    server.stop().await;
}

/// The 2024-11-05 HTTP+SSE transport binds its sessions the same way: the
/// `sessionId` in the message URL is useless with another tenant's key.
#[tokio::test]
async fn http_sse_sessions_are_bound_too() {
    let (server, tenants) = server().await;
    let base = format!("http://{}", server.addr);
    let owner = switchboard_testkit::bearer_client(&tenants[0].key);
    let thief = switchboard_testkit::bearer_client(&tenants[1].key);
    let unauthenticated = reqwest::Client::new()
        .get(format!("{base}/sse"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let resp = owner
        .get(format!("{base}/sse"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut events = switchboard_testkit::SseReader::new(resp);
    let endpoint = events.next().await.unwrap();
    let url = format!("{base}{}", endpoint.data);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}}});
    let post = |http: &reqwest::Client, body: &Value| {
        http.post(&url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    assert_eq!(
        post(&thief, &init).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&owner, &init).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let answer = events.next().await.unwrap().json().unwrap();
    assert_eq!(answer["id"], 1);
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "whoami", "arguments": {"nonce": "n"}}});
    assert_eq!(
        post(&thief, &call).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&owner, &call).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let v = events.next().await.unwrap().json().unwrap();
    assert_eq!(v["id"], 2, "only the owner's call ran: {v}");
    assert_eq!(v["result"]["structuredContent"]["tenant"], tenants[0].id);
    server.stop().await;
}
