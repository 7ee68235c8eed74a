//! Durable tasks of the 2026-07-28 tasks extension, beyond what the
//! conformance scenarios check: a task belongs to the principal who started
//! it (anyone else gets exactly the answer of an unknown task), and the
//! per-principal cap and the result size bound hold. And the experimental
//! tasks of 2025-11-25 on a session, on the same store.

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_server::{AnonymousMode, ApiKeyConfig, Config, TenantConfig};
use switchboard_testkit::{ModernClient, Reply, TestServer};

const EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// A server with these tenants (one key each), a tasks-accepting client
/// per tenant, and their keys.
async fn server(
    mut config: Config,
    tenants: &[&str],
) -> (TestServer, Vec<ModernClient>, Vec<String>) {
    config.auth.anonymous = AnonymousMode::Off;
    let mut keys = Vec::new();
    for id in tenants {
        let (key, sha256) = switchboard_auth::new_api_key();
        config.tenants.push(TenantConfig {
            id: (*id).into(),
            api_keys: vec![ApiKeyConfig {
                id: "agent".into(),
                sha256,
            }],
            ..TenantConfig::default()
        });
        keys.push(key);
    }
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let clients = keys
        .iter()
        .map(|k| {
            let mut c = ModernClient::with_token(&server.url(), k);
            c.capabilities = json!({"elicitation": {}, "extensions": {EXTENSION: {}}});
            c
        })
        .collect();
    (server, clients, keys)
}

/// The result of a request, or its HTTP status and JSON-RPC error.
async fn send(c: &ModernClient, method: &str, params: Value) -> Result<Value, (StatusCode, Value)> {
    match c.request(1, method, params).await {
        Reply::Json(v) if v.get("result").is_some() => Ok(v["result"].clone()),
        Reply::Json(v) => Err((StatusCode::OK, v["error"].clone())),
        Reply::Other(status, body) => {
            let v: Value = serde_json::from_str(&body).expect("JSON error body");
            Err((status, v["error"].clone()))
        }
        Reply::Sse(_) => panic!("{method}: unexpected stream"),
    }
}

async fn start(c: &ModernClient, seconds: u64, label: &str) -> Result<String, (StatusCode, Value)> {
    let args = json!({"seconds": seconds, "label": label});
    let created = send(
        c,
        "tools/call",
        json!({"name": "slow_compute", "arguments": args}),
    )
    .await?;
    assert_eq!(created["resultType"], "task", "{created}");
    Ok(created["taskId"].as_str().expect("taskId").to_owned())
}

async fn get(c: &ModernClient, id: &str) -> Result<Value, (StatusCode, Value)> {
    send(c, "tasks/get", json!({"taskId": id})).await
}

/// Poll until the task is terminal (generous bound; no timing asserted).
async fn settled(c: &ModernClient, id: &str) -> Value {
    for _ in 0..600 {
        let t = get(c, id).await.expect("tasks/get");
        if ["completed", "failed", "cancelled"].contains(&t["status"].as_str().unwrap_or("")) {
            return t;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("task {id} did not settle")
}

#[tokio::test]
async fn a_task_belongs_to_its_principal() {
    let (_server, clients, _) = server(Config::default(), &["red", "blue"]).await;
    let (red, blue) = (&clients[0], &clients[1]);
    let id = start(red, 60, "red-secret").await.expect("created");
    assert_eq!(get(red, &id).await.expect("own task")["status"], "working");

    let unknown = get(blue, "no-such-task").await.expect_err("unknown task");
    assert_eq!(unknown.0, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.1["code"], -32602);
    for method in ["tasks/get", "tasks/cancel"] {
        let theirs = send(blue, method, json!({"taskId": id})).await;
        assert_eq!(
            theirs.expect_err("another tenant's task"),
            unknown,
            "{method}"
        );
    }
    let update = json!({"taskId": id, "inputResponses": {}});
    assert_eq!(
        send(blue, "tasks/update", update)
            .await
            .expect_err("update"),
        unknown
    );
    assert_eq!(
        get(red, &id).await.unwrap()["status"],
        "working",
        "blue's cancel did nothing"
    );

    let ack = send(red, "tasks/cancel", json!({"taskId": id}))
        .await
        .expect("cancel");
    assert_eq!(ack["resultType"], "complete");
    assert_eq!(settled(red, &id).await["status"], "cancelled");
}

#[tokio::test]
async fn tasks_are_bounded_per_principal_and_in_result_size() {
    let config = Config {
        max_tasks_per_identity: 2,
        task_max_result_bytes: 200,
        ..Config::default()
    };
    let (_server, clients, _) = server(config, &["red", "blue"]).await;
    let (red, blue) = (&clients[0], &clients[1]);
    let small = start(red, 0, "small").await.expect("first");
    let big = start(red, 0, &"x".repeat(500)).await.expect("second");
    let (status, error) = start(red, 0, "third").await.expect_err("over the cap");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{error}");
    assert!(
        start(blue, 0, "blue").await.is_ok(),
        "the cap is per principal"
    );

    let done = settled(red, &small).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        done["result"]["content"][0]["text"],
        "small: done after 0 s"
    );
    let too_big = settled(red, &big).await;
    assert_eq!(too_big["status"], "failed", "{too_big}");
    assert!(too_big.get("result").is_none());
    assert!(
        too_big["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 200 bytes")
    );
}

#[tokio::test]
async fn without_the_extension_task_methods_are_refused() {
    let (_server, clients, _) = server(Config::default(), &["red"]).await;
    let mut plain = clients[0].clone();
    plain.capabilities = json!({});
    let (status, error) = get(&plain, "x").await.expect_err("refused");
    assert_eq!(
        (status, error["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(-32021))
    );
    assert!(error["data"]["requiredCapabilities"]["extensions"][EXTENSION].is_object());
    let sync = send(
        &plain,
        "tools/call",
        json!({"name": "slow_compute", "arguments": {"seconds": 0}}),
    )
    .await
    .expect("a sync call");
    assert_eq!(sync["resultType"], "complete");
}

/// The 2025-11-25 experimental tasks on a session, on the same store:
/// `params.task` makes a task, `tasks/result` waits for the tool's result,
/// a task-only tool called without it is -32601, and another tenant's
/// session sees no task.
#[tokio::test]
async fn session_era_tasks() {
    let (server, _, keys) = server(Config::default(), &["red", "blue"]).await;
    let (red_key, blue_key) = (&keys[0], &keys[1]);
    let mut red = switchboard_testkit::McpClient::with_token(&server.url(), red_key);
    red.version = "2025-11-25".into();
    let init = red.initialize(json!({})).await;
    assert!(
        init["capabilities"]["tasks"]["requests"]["tools"]["call"].is_object(),
        "{init}"
    );
    let mut blue = switchboard_testkit::McpClient::with_token(&server.url(), blue_key);
    blue.version = "2025-11-25".into();
    blue.initialize(json!({})).await;

    let args = json!({"seconds": 1, "label": "legacy"});
    let (created, _) = red
        .call(
            "tools/call",
            json!({"name": "slow_compute", "arguments": args, "task": {"ttl": 60000}}),
        )
        .await;
    let task = &created["result"]["task"];
    assert_eq!(task["status"], "working", "{created}");
    assert_eq!(task["ttl"], 60000);
    let id = task["taskId"].as_str().expect("taskId").to_owned();

    let (theirs, _) = blue.call("tasks/get", json!({"taskId": id})).await;
    assert_eq!(theirs["error"]["code"], -32602, "{theirs}");
    let (result, _) = red.call("tasks/result", json!({"taskId": id})).await;
    assert_eq!(
        result["result"]["content"][0]["text"], "legacy: done after 1 s",
        "{result}"
    );
    assert_eq!(
        result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        id
    );
    let (got, _) = red.call("tasks/get", json!({"taskId": id})).await;
    assert_eq!(got["result"]["status"], "completed", "{got}");
    assert!(init["capabilities"]["tasks"]["list"].is_object(), "{init}");
    let (listed, _) = red.call("tasks/list", json!({})).await;
    assert_eq!(listed["result"]["tasks"][0], got["result"], "{listed}");
    assert_eq!(listed["result"]["tasks"].as_array().map(Vec::len), Some(1));
    assert!(listed["result"].get("nextCursor").is_none(), "{listed}");
    let (none, _) = blue.call("tasks/list", json!({})).await;
    assert_eq!(none["result"]["tasks"], json!([]), "only one's own: {none}");
    let (past, _) = red.call("tasks/list", json!({"cursor": id})).await;
    assert_eq!(past["result"]["tasks"], json!([]), "{past}");
    let (bad, _) = red.call("tasks/list", json!({"cursor": 7})).await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let (late, _) = red.call("tasks/cancel", json!({"taskId": id})).await;
    assert_eq!(
        late["error"]["code"], -32602,
        "a terminal task cannot be cancelled: {late}"
    );

    let (refused, _) = red
        .call(
            "tools/call",
            json!({"name": "failing_job", "arguments": {}}),
        )
        .await;
    assert_eq!(refused["error"]["code"], -32601, "{refused}");
    let (sync, _) = red
        .call(
            "tools/call",
            json!({"name": "slow_compute", "arguments": {"seconds": 0}}),
        )
        .await;
    assert!(
        sync["result"].get("task").is_none(),
        "no task unless asked: {sync}"
    );
}

/// `tasks/*` are work: they spend the caller's rate tokens like any other
/// request (a session's and its tenant's in a session, the identity's and
/// the tenant's statelessly), so polling is bounded like calling.
#[tokio::test]
async fn task_methods_count_against_the_rates() {
    use switchboard_server::RateConfig;
    let burst = |burst: u32| {
        Some(RateConfig {
            per_second: 0.0001,
            burst,
        })
    };
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    let mut keys = Vec::new();
    for id in ["red", "blue", "green"] {
        let (key, sha256) = switchboard_auth::new_api_key();
        let mut t = TenantConfig {
            id: id.into(),
            api_keys: vec![ApiKeyConfig {
                id: "agent".into(),
                sha256,
            }],
            ..TenantConfig::default()
        };
        match id {
            "red" => t.rate = burst(5),
            "blue" => t.session_rate = burst(3),
            _ => t.rate = burst(4),
        }
        config.tenants.push(t);
        keys.push(key);
    }
    let server = TestServer::with(config, switchboard_everything::everything()).await;
    let session = async |key: &str| {
        let mut c = switchboard_testkit::McpClient::with_token(&server.url(), key);
        c.version = "2025-11-25".into();
        c.initialize(json!({})).await; // sessions have their own quota
        c
    };
    // The limit named by each 429 of `n` requests, and how many were not 429.
    let count = |replies: Vec<Reply>| {
        let mut limits = Vec::new();
        for r in replies {
            match r {
                Reply::Other(StatusCode::TOO_MANY_REQUESTS, body) => {
                    let v: Value = serde_json::from_str(&body).unwrap();
                    assert_eq!(v["error"]["code"], -32029, "{v}");
                    limits.push(v["error"]["data"]["limit"].as_str().unwrap().to_owned());
                }
                Reply::Other(s, body) if s != StatusCode::BAD_REQUEST => panic!("{s}: {body}"),
                _ => {}
            }
        }
        limits
    };

    // red: tenant rate 5, in a 2025-11-25 session.
    let red = session(&keys[0]).await;
    let mut replies = Vec::new();
    for i in 0..10 {
        replies.push(red.request(100 + i, "tasks/list", json!({})).await);
    }
    assert_eq!(count(replies), vec!["tenant"; 5]);
    let mut more = Vec::new();
    for method in ["tasks/get", "tasks/result", "tasks/cancel", "tools/list"] {
        more.push(red.request(200, method, json!({"taskId": "nope"})).await);
    }
    assert_eq!(count(more), vec!["tenant"; 4], "the same tokens");

    // blue: session rate 3; another session has its own.
    let blue = session(&keys[1]).await;
    let mut replies = Vec::new();
    for i in 0..6 {
        replies.push(
            blue.request(300 + i, "tasks/get", json!({"taskId": "nope"}))
                .await,
        );
    }
    assert_eq!(count(replies), vec!["session"; 3]);
    let other = session(&keys[1]).await;
    let (listed, _) = other.call("tasks/list", json!({})).await;
    assert_eq!(listed["result"]["tasks"], json!([]), "{listed}");

    // green: tenant rate 4, stateless tasks methods of 2026-07-28.
    let mut green = ModernClient::with_token(&server.url(), &keys[2]);
    green.capabilities = json!({"extensions": {EXTENSION: {}}});
    let mut replies = Vec::new();
    for (i, method) in ["tasks/get", "tasks/cancel", "tasks/update"]
        .iter()
        .cycle()
        .take(9)
        .enumerate()
    {
        let r = green
            .request(400 + i as u64, method, json!({"taskId": "nope"}))
            .await;
        replies.push(r);
    }
    assert_eq!(count(replies), vec!["tenant"; 5]);
}
