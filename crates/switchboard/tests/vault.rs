//! The token vault across nodes and restarts: a token exchanged for a user
//! through one `switchboard serve` node serves the same user on another
//! node of the same Redis, and on a `store = "file"` node after a restart,
//! without another request to the identity provider (a real Authlib
//! authorization server); Redis holds only sealed bytes.

use crate::redis_support;
use crate::support;

use std::path::Path;

use redis_support::RedisProcess;
use serde_json::{Value, json};
use support::Node;
use switchboard_testkit::McpClient;
use switchboard_testkit::oauth::{OAuthServer, SWITCHBOARD, UPSTREAM};

const VAULT_KEY: &str = "7a11e77a11e77a11e77a11e77a11e77a11e77a11e77a11e77a11e77a11e77a11";

/// A resource server's `[auth]`: the authorization server's tokens meant
/// for `audience`, tenants acme and globex.
fn resource(idp: &OAuthServer, audience: &str) -> String {
    format!(
        "[auth]\nanonymous = \"off\"\n\n[[auth.jwt]]\nissuer = \"{issuer}\"\naudience = [\"{audience}\"]\njwks_url = \"{issuer}/jwks\"\n\n\
         [[tenants]]\nid = \"acme\"\n\n[[tenants]]\nid = \"globex\"\n",
        issuer = idp.issuer()
    )
}

/// A gateway's configuration: `upstream` behind it, its tokens exchanged
/// for each caller's, kept in the vault.
fn gateway(dir: &Path, idp: &OAuthServer, upstream: &str) -> std::path::PathBuf {
    let path = dir.join("gateway.toml");
    let text = format!(
        "{resource}\n[vault]\nkeys = [{{ id = \"k1\", key = \"{VAULT_KEY}\" }}]\n\n\
         [[upstreams]]\nname = \"web\"\nkind = \"http\"\nurl = \"{upstream}\"\n\n\
         [upstreams.auth]\ntoken_endpoint = \"{issuer}/token\"\nclient_id = \"switchboard\"\n\
         client_secret = \"switchboard-secret\"\naudience = \"{UPSTREAM}\"\n",
        resource = resource(idp, SWITCHBOARD),
        issuer = idp.issuer(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn upstream(dir: &Path, idp: &OAuthServer) -> Node {
    let path = dir.join("upstream.toml");
    std::fs::write(&path, resource(idp, UPSTREAM)).unwrap();
    Node::spawn(Some(&path), &[])
}

/// A new session of `token`'s user on `node` calls the upstream's
/// `whoami`: the subject it saw.
async fn whoami(node: &Node, token: &str) -> Value {
    let mut c = McpClient::with_token(&node.url, token);
    let init = c.initialize(json!({})).await;
    assert!(init.get("error").is_none(), "{init}");
    let r = c
        .call(
            "tools/call",
            json!({"name": "web__whoami", "arguments": {}}),
        )
        .await
        .0;
    r["result"]["structuredContent"]["subject"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_had_through_one_node_serves_on_another() {
    let redis = RedisProcess::start();
    let idp = OAuthServer::start(&[]).await;
    let dir = support::temp_dir("vault-redis");
    let up = upstream(&dir, &idp);
    let config = gateway(&dir, &idp, &up.url);
    let a = Node::on_redis(Some(&config), &redis.url(), "vault");
    let b = Node::on_redis(Some(&config), &redis.url(), "vault");
    let alice = idp.user_token("alice").await;
    assert_eq!(whoami(&a, &alice).await, "alice");
    assert_eq!(idp.stats().await["exchanges"], 1);
    assert_eq!(whoami(&b, &alice).await, "alice");
    assert_eq!(
        idp.stats().await["exchanges"],
        1,
        "node b used the kept token"
    );
    // Another user: their own exchange, kept for them.
    let bob = idp.user_token("bob").await;
    assert_eq!(whoami(&b, &bob).await, "bob");
    assert_eq!(whoami(&a, &bob).await, "bob");
    assert_eq!(idp.stats().await["exchanges"], 2);

    // What Redis holds is sealed: no JWT (they all start `eyJ`) in it.
    let mut conn = redis.raw().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("vault:vault:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "one hash for tenant acme: {keys:?}");
    let entries: Vec<Vec<u8>> = redis::cmd("HVALS")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(entries.len(), 2);
    for e in &entries {
        assert!(!e.windows(3).any(|w| w == b"eyJ"), "a token in the clear");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_store_node_keeps_its_tokens_across_a_restart() {
    let idp = OAuthServer::start(&[]).await;
    let dir = support::temp_dir("vault-file");
    let up = upstream(&dir, &idp);
    let config = gateway(&dir, &idp, &up.url);
    let db = dir.join("switchboard.redb");
    let db = db.to_str().unwrap();
    let env = [
        ("SWITCHBOARD_STORE", "file"),
        ("SWITCHBOARD_STORE_PATH", db),
    ];
    let alice = idp.user_token("alice").await;
    let node = Node::spawn(Some(&config), &env);
    assert_eq!(whoami(&node, &alice).await, "alice");
    assert_eq!(idp.stats().await["exchanges"], 1);
    drop(node);
    let node = Node::spawn(Some(&config), &env);
    assert_eq!(whoami(&node, &alice).await, "alice");
    assert_eq!(idp.stats().await["exchanges"], 1, "kept across the restart");
    drop(node);
    // Without the vault's key, nothing kept opens: a new exchange.
    let other_key = std::fs::read_to_string(&config)
        .unwrap()
        .replace(VAULT_KEY, &"0".repeat(64));
    std::fs::write(&config, other_key).unwrap();
    let node = Node::spawn(Some(&config), &env);
    assert_eq!(whoami(&node, &alice).await, "alice");
    assert_eq!(idp.stats().await["exchanges"], 2);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
