//! One tenant's flood of server events costs another tenant none of its
//! own on a cluster: two nodes on one real Redis; tenant `noisy` floods on
//! node A (its GET streams there never read), tenant `quiet` touches its
//! resources at node A and listens at node B, whose GET stream is fed by
//! what A logs for it (`fanout`) and announces on the bus. The quiet
//! stream hears every update produced for it, once each, in order.
//! Counted, not timed (`switchboard_testkit::flood`).

use crate::redis_support;

use std::sync::Arc;
use std::time::Duration;

use redis_support::RedisProcess;
use switchboard_runtime::EventBus;
use switchboard_server::{AnonymousMode, ApiKeyConfig, App, ClusterEvents, Config, TenantConfig};
use switchboard_store::SessionBus;
use switchboard_store_redis::{
    Redis, RedisBus, RedisEventLog, RedisOptions, RedisRateLimiter, RedisSessionStore,
};
use switchboard_testkit::McpClient;
use switchboard_testkit::flood::{Flood, QUIET_EVENTS, doc, quiet_tenant_hears};

/// Sessions of the noisy tenant with a GET stream on the flooded resource.
const NOISY_SESSIONS: usize = 8;

/// A node of the cluster, served until the sender is dropped.
struct Node {
    url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A node on `redis_url` under `prefix`, with the flood's catalog, as
/// `switchboard serve` builds one (`crates/switchboard/src/stores.rs`).
async fn node(redis_url: &str, prefix: &str, config: &Config, flood: &Flood) -> Node {
    let options = RedisOptions {
        prefix: prefix.to_owned(),
        timeout: Duration::from_secs(2),
        cluster: false,
    };
    let redis = Redis::connect(redis_url, options).await.expect("Redis");
    let bus: Arc<dyn SessionBus> = RedisBus::start(&redis, 1 << 20).await.expect("bus");
    let events = ClusterEvents::new(bus.clone());
    let catalog = flood
        .catalog(switchboard_everything::everything())
        .bus(events.clone() as Arc<dyn EventBus>)
        .build()
        .expect("catalog");
    let ttl = Duration::from_secs(3600);
    let log = RedisEventLog::new(redis.clone(), 10_000, 16 << 20, ttl);
    let app = App::builder(config.clone(), Arc::new(catalog))
        .cluster_events(events)
        .store(Arc::new(RedisSessionStore::new(redis.clone())))
        .event_log(Arc::new(log))
        .rate_limiter(Arc::new(RedisRateLimiter::new(redis)))
        .session_bus(bus)
        .try_build()
        .expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/mcp", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(switchboard_server::serve(listener, app, async {
        let _ = stopped.await;
    }));
    Node { url, _stop: stop }
}

fn tenant(id: &str, config: &mut Config) -> String {
    let (key, sha256) = switchboard_auth::new_api_key();
    config.tenants.push(TenantConfig {
        id: id.into(),
        api_keys: vec![ApiKeyConfig {
            id: "agent".into(),
            sha256,
        }],
        ..TenantConfig::default()
    });
    key
}

async fn session(url: &str, key: &str) -> McpClient {
    let mut c = McpClient::with_token(url, key);
    c.initialize(serde_json::json!({})).await;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_tenant_costs_a_quiet_one_no_event_across_nodes() {
    let redis = RedisProcess::start();
    let prefix = redis_support::unique_prefix("fairness");
    let mut config = Config::default();
    config.auth.anonymous = AnonymousMode::Off;
    let quiet_key = tenant("quiet", &mut config);
    let noisy_key = tenant("noisy", &mut config);
    let flood = Flood::default();
    let a = node(&redis.url(), &prefix, &config, &flood).await;
    let b = node(&redis.url(), &prefix, &config, &flood).await;

    let quiet = session(&a.url, &quiet_key).await;
    let mut noisy = Vec::new();
    for _ in 0..NOISY_SESSIONS {
        noisy.push(session(&a.url, &noisy_key).await);
    }
    let flooder = session(&a.url, &noisy_key).await;
    let heard = quiet_tenant_hears(&flood, &quiet, &b.url, &noisy, flooder).await;

    let produced: Vec<String> = (0..QUIET_EVENTS).map(doc).collect();
    assert_eq!(
        heard.uris,
        produced,
        "the quiet stream heard {} of the {} events produced for it (the flood published {})",
        heard.uris.len(),
        produced.len(),
        heard.flood_events
    );
}
