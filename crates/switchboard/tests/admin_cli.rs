//! `switchboard sessions list|show|kill` and `switchboard drain` against a
//! spawned `switchboard serve` with its admin listener; and the CLI's
//! words for a wrong token, an unknown session and no listener.

use std::process::{Command, Output};

use serde_json::json;
use switchboard_testkit::McpClient;

use crate::support;
use support::Node;

/// `switchboard keys new --admin` prints the token and its digest.
fn admin_token() -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["keys", "new", "--admin"])
        .output()
        .expect("run keys new");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text
        .split_whitespace()
        .find(|w| w.starts_with("sb_"))
        .expect("a token")
        .to_owned();
    let digest = text
        .split('"')
        .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .expect("a digest line")
        .to_owned();
    (token, digest)
}

/// Run the CLI against `admin` with `token` in the environment.
fn cli(admin: &str, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .args(["--admin", admin])
        .env("SWITCHBOARD_ADMIN_TOKEN", token)
        .output()
        .expect("run the CLI")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn sessions_are_listed_shown_and_killed_and_the_node_drained() {
    let (token, digest) = admin_token();
    let node = Node::spawn(
        None,
        &[
            ("SWITCHBOARD_ADMIN__LISTEN", "127.0.0.1:0"),
            ("SWITCHBOARD_ADMIN__TOKEN_SHA256", &digest),
            ("SWITCHBOARD_ADMIN__NODE_ID", "cli-node"),
        ],
    );
    let admin = node.admin.clone().expect("the banner names the admin API");
    let mut a = McpClient::new(&node.url);
    a.initialize(json!({})).await;
    let mut b = McpClient::new(&node.url);
    b.initialize(json!({})).await;
    let (id_a, id_b) = (a.session.clone().unwrap(), b.session.clone().unwrap());
    a.call_tool("echo", json!({"message": "hi"})).await;

    let list = cli(&admin, &token, &["sessions", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let text = stdout(&list);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ID"), "{text}");
    assert!(lines[0].contains("TENANT") && lines[0].contains("REQUESTS"));
    assert!(text.contains(&id_a) && text.contains(&id_b), "{text}");
    assert!(text.contains("2 of 2 sessions on node cli-node"), "{text}");
    // Columns line up: every row's second column starts where the header's does.
    let col = lines[0].find("TENANT").unwrap();
    for row in &lines[1..3] {
        assert_eq!(&row[col..col + "anonymous".len()], "anonymous", "{text}");
    }
    let other = cli(&admin, &token, &["sessions", "list", "--tenant", "nobody"]);
    assert!(
        stdout(&other).contains("0 of 0 sessions"),
        "{}",
        stdout(&other)
    );

    let show = cli(&admin, &token, &["sessions", "show", &id_a]);
    assert!(show.status.success(), "{}", stderr(&show));
    let text = stdout(&show);
    assert!(text.contains(&id_a), "{text}");
    assert!(
        text.contains("tenant:") && text.contains("anonymous"),
        "{text}"
    );
    assert!(
        text.contains("client:") && text.contains("testkit 1"),
        "{text}"
    );

    let kill = cli(&admin, &token, &["sessions", "kill", &id_a]);
    assert!(kill.status.success(), "{}", stderr(&kill));
    assert!(stdout(&kill).contains(&format!("ended session {id_a}")));
    let gone = cli(&admin, &token, &["sessions", "show", &id_a]);
    assert!(!gone.status.success());
    assert!(
        stderr(&gone).contains("no such session"),
        "{}",
        stderr(&gone)
    );
    let again = cli(&admin, &token, &["sessions", "kill", &id_a]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("no such session"));
    let r = a
        .post()
        .body(json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "the killed session is gone");

    // Errors in words: a wrong token, no token, nothing listening.
    let wrong = cli(&admin, "sb_wrong", &["sessions", "list"]);
    assert!(!wrong.status.success());
    assert!(stderr(&wrong).contains("401"), "{}", stderr(&wrong));
    let none = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["sessions", "list", "--admin", &admin])
        .env_remove("SWITCHBOARD_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(!none.status.success());
    assert!(stderr(&none).contains("SWITCHBOARD_ADMIN_TOKEN"));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        format!("http://{addr}")
    };
    let refused = cli(&closed, &token, &["drain"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("cannot connect"),
        "{}",
        stderr(&refused)
    );

    // Drain: new sessions refused, the old one still served.
    let drain = cli(&admin, &token, &["drain"]);
    assert!(drain.status.success(), "{}", stderr(&drain));
    assert!(stdout(&drain).contains("cli-node is draining"));
    let fresh = McpClient::new(&node.url);
    let r = fresh
        .post()
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let echoed = b.call_tool("echo", json!({"message": "still"})).await;
    assert!(echoed["content"].is_array(), "{echoed}");
}

#[test]
fn without_an_admin_token_the_admin_listener_is_not_started() {
    let node = Node::spawn(None, &[("SWITCHBOARD_ADMIN__LISTEN", "127.0.0.1:0")]);
    assert!(node.admin.is_none(), "no admin API without a token");
}
