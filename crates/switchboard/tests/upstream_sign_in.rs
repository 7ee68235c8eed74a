//! OAuth to an upstream by each user's own sign-in, on real nodes: two
//! `switchboard serve` nodes on one Redis, driven by the official Python
//! SDK (`tests/interop/python/sign_in_client.py`) in both eras — its URL
//! elicitation handled by following the URL and signing in at the test
//! authorization server (Authlib), the grant made through one node used on
//! the other; and a `store = "file"` node that keeps its users' grants
//! across a restart.

use crate::redis_support;
use crate::support;

use std::path::{Path, PathBuf};

use redis_support::RedisProcess;
use serde_json::{Value, json};
use support::Node;
use switchboard_testkit::McpClient;
use switchboard_testkit::oauth::{OAuthServer, UPSTREAM};

const VAULT_KEY: &str = "c0dec0dec0dec0dec0dec0dec0dec0dec0dec0dec0dec0dec0dec0dec0dec0de";
const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/venv/bin/python");
const CLIENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/interop/python/sign_in_client.py"
);

/// The upstream: a node accepting the authorization server's tokens meant
/// for it, for tenants acme and globex.
fn upstream(dir: &Path, idp: &OAuthServer) -> Node {
    let path = dir.join("upstream.toml");
    let text = format!(
        "[auth]\nanonymous = \"off\"\n\n[[auth.jwt]]\nissuer = \"{i}\"\naudience = [\"{UPSTREAM}\"]\njwks_url = \"{i}/jwks\"\n\n\
         [[tenants]]\nid = \"acme\"\n\n[[tenants]]\nid = \"globex\"\n",
        i = idp.issuer()
    );
    std::fs::write(&path, text).unwrap();
    Node::spawn(Some(&path), &[])
}

/// The gateway's configuration (callbacks to port `port`), and the API
/// keys of its users (tenant acme, key ids their names).
fn gateway(
    dir: &Path,
    idp: &OAuthServer,
    upstream: &str,
    port: u16,
) -> (PathBuf, Vec<(String, String)>) {
    let mut keys = Vec::new();
    let mut entries = Vec::new();
    for user in USERS {
        let (key, sha256) = switchboard_auth::new_api_key();
        entries.push(format!("{{ id = \"{user}\", sha256 = \"{sha256}\" }}"));
        keys.push((user.to_owned(), key));
    }
    let text = format!(
        "[auth]\nanonymous = \"off\"\n\n[[tenants]]\nid = \"acme\"\napi_keys = [{keys}]\n\n\
         [vault]\nkeys = [{{ id = \"k1\", key = \"{VAULT_KEY}\" }}]\n\n\
         [[upstreams]]\nname = \"web\"\nkind = \"http\"\nurl = \"{upstream}\"\n\n\
         [upstreams.auth]\ngrant = \"authorization_code\"\n\
         authorization_endpoint = \"{i}/authorize\"\ntoken_endpoint = \"{i}/token\"\n\
         redirect_uri = \"http://127.0.0.1:{port}/connect/callback\"\n\
         client_id = \"switchboard-connect\"\nclient_secret = \"connect-secret\"\nresource = \"{UPSTREAM}\"\n",
        keys = entries.join(", "),
        i = idp.issuer(),
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    (path, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_signs_in_through_one_node_and_calls_through_another() {
    assert!(
        Path::new(PYTHON).exists(),
        "{PYTHON} is missing: run scripts/tools.sh"
    );
    let redis = RedisProcess::start();
    let idp = OAuthServer::start(&[]).await;
    let dir = support::temp_dir("sign-in-redis");
    let up = upstream(&dir, &idp);
    let port = redis_support::free_port();
    let (config, keys) = gateway(&dir, &idp, &up.url, port);
    let on_redis = [
        ("SWITCHBOARD_STORE", "redis"),
        ("SWITCHBOARD_REDIS_URL", &redis.url()),
        ("SWITCHBOARD_REDIS_PREFIX", "signin"),
    ];
    let a = Node::spawn_on(&format!("127.0.0.1:{port}"), Some(&config), &on_redis);
    let b = Node::spawn(Some(&config), &on_redis);
    let args: Vec<String> = keys.iter().map(|(u, k)| format!("{u}={k}")).collect();
    let out = tokio::process::Command::new(PYTHON)
        .arg(CLIENT)
        .arg(&a.url)
        .arg(&b.url)
        .args(&args)
        .output()
        .await
        .expect("the Python client runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stdout.contains("FAIL") && stdout.matches("PASS").count() == 16,
        "{stdout}\n{stderr}\nnode a:\n{}\nnode b:\n{}",
        a.logged(),
        b.logged()
    );
    println!("{stdout}");
    let stats = idp.stats().await;
    assert_eq!(
        stats["code_subjects"],
        json!(["alice", "bob", "carol", "dave"]),
        "{stats}"
    );
    drop((a, b, up));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn whoami(node: &Node, key: &str) -> Value {
    let mut c = McpClient::with_token(&node.url, key);
    c.initialize(json!({})).await;
    c.call(
        "tools/call",
        json!({"name": "web__whoami", "arguments": {}}),
    )
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_store_node_keeps_users_grants_across_a_restart() {
    let idp = OAuthServer::start(&[]).await;
    let dir = support::temp_dir("sign-in-file");
    let up = upstream(&dir, &idp);
    let port = redis_support::free_port();
    let (config, keys) = gateway(&dir, &idp, &up.url, port);
    let db = dir.join("switchboard.redb");
    let env = [
        ("SWITCHBOARD_STORE", "file"),
        ("SWITCHBOARD_STORE_PATH", db.to_str().unwrap()),
    ];
    let listen = format!("127.0.0.1:{port}");
    let alice = &keys[0].1;
    let node = Node::spawn_on(&listen, Some(&config), &env);
    let asked = whoami(&node, alice).await;
    let url = asked["error"]["data"]["elicitations"][0]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("a URL elicitation: {asked}"))
        .to_owned();
    let (status, page) = idp.sign_in(&url, "alice").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        whoami(&node, alice).await["result"]["structuredContent"]["subject"],
        "alice"
    );
    drop(node);
    let node = Node::spawn_on(&listen, Some(&config), &env);
    let who = whoami(&node, alice).await;
    assert_eq!(
        who["result"]["structuredContent"]["subject"], "alice",
        "{who}"
    );
    assert_eq!(idp.stats().await["code_tokens"], 1, "no second sign-in");
    drop((node, up));
    let _ = std::fs::remove_dir_all(&dir);
}
